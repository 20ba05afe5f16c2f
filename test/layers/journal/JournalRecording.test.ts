import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import { mkdtempSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BusEvent, makeEventAt } from "../../../src/domain/BusEvent.js"
import * as JournalHooks from "../../../src/layers/journal/JournalHooks.js"
import * as JournalRecovery from "../../../src/layers/journal/JournalRecovery.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { EventLog, Journal, JournalError, type RecordedQuery } from "../../../src/services/Journal.js"
import { candle } from "../../support/fixtures.js"
import { created } from "../../support/journal.js"

const tmp = () => mkdtempSync(join(tmpdir(), "trading-bus-record-"))

const candleEvent = (symbol = "BTCUSDT", openTime = 0, interval = "1m") =>
  makeEventAt("CandleClosed", { ...candle(100 + openTime / 60_000, openTime, symbol), interval }, openTime + 59_999, { source: "test" })
const signalEvent = (symbol = "BTCUSDT") =>
  makeEventAt("SignalGenerated", { symbol, direction: "LONG", price: 100, strategy: "sma", reason: "test", timestamp: 59_999 }, 59_999)
const errorEvent = () => makeEventAt("Error", { component: "strategy", message: "boom", cause: "Error: boom" }, 1)

/** Builds a layer in a scope of its own, closed by the test (to reopen the same file afterwards). */
const open = <A, E>(layer: Layer.Layer<A, E>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    return { context, close: Scope.close(scope, Exit.void) }
  })

/** A file journal, the bus's hooks on it (recording or not), and the bus, as `engineLayer` composes them. */
const journaledBus = (filename: string, record: boolean) =>
  MemoryEventBus.layer({ drainTimeout: "200 millis" }).pipe(
    Layer.provideMerge(record ? JournalHooks.layerWith({ record: true }) : JournalHooks.layer),
    Layer.provideMerge(SqliteJournal.layer({ filename }))
  )

const recorded = (log: EventLog["Type"], query?: RecordedQuery) =>
  Effect.map(Stream.runCollect(log.recorded(query)), Chunk.toReadonlyArray)

/** Waits (live) until `check` holds. */
const until = <E>(check: Effect.Effect<boolean, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (yield* check) return
      yield* Effect.sleep("10 millis")
    }
    throw new Error("condition not reached")
  })

const processed = (bus: EventBus["Type"]) =>
  Effect.map(bus.stats, (s) => s.data.processed + s.signal.processed + s.order.processed)

describe("recording every event in the journal (trading-bus run --record)", () => {
  it.live("orders keep write-ahead then done; the other queues' events are appended done, in publish order", () =>
    Effect.gen(function*() {
      const { close, context } = yield* open(journaledBus(join(tmp(), "rec.db"), true))
      const bus = Context.get(context, EventBus)
      const journal = Context.get(context, Journal)
      const log = Context.get(context, EventLog)
      const pendingWhileHandled: Record<string, boolean> = {}
      const spy = (event: BusEvent) =>
        Effect.map(journal.pending, (p) => void (pendingWhileHandled[event.type] = p.some((e) => e.event.id === event.id)))
      yield* bus.subscribe("CandleClosed", spy)
      yield* bus.subscribe("OrderCreated", spy)
      const events = [candleEvent(), signalEvent(), errorEvent(), created("a")]
      for (const event of events) yield* bus.publish(event)
      yield* until(Effect.map(processed(bus), (n) => n === events.length))
      // the order was pending while its handler ran, the candle never was
      expect(pendingWhileHandled).toEqual({ CandleClosed: false, OrderCreated: true })
      yield* until(Effect.map(journal.pending, (p) => p.length === 0))
      const entries = yield* recorded(log)
      expect(entries.map((e) => [e.event.id, e.queue, e.done])).toEqual([
        [events[0]!.id, "data", true],
        [events[1]!.id, "signal", true],
        [events[2]!.id, "signal", true],
        [events[3]!.id, "order", true]
      ])
      expect(entries[0]!.event).toEqual(events[0])
      yield* close
    }))

  it.live("without recording, only the order queue is journaled", () =>
    Effect.gen(function*() {
      const { close, context } = yield* open(journaledBus(join(tmp(), "orders.db"), false))
      const bus = Context.get(context, EventBus)
      for (const event of [candleEvent(), signalEvent(), created("a")]) yield* bus.publish(event)
      yield* until(Effect.map(processed(bus), (n) => n === 3))
      const entries = yield* recorded(Context.get(context, EventLog))
      expect(entries.map((e) => e.event.type)).toEqual(["OrderCreated"])
      yield* close
    }))

  it.live("after a crash, recovery publishes again only the unhandled orders, never a recorded candle or signal", () =>
    Effect.gen(function*() {
      const filename = join(tmp(), "rec.db")
      const first = yield* open(journaledBus(filename, true))
      const bus = Context.get(first.context, EventBus)
      yield* bus.subscribe("CandleClosed", () => Effect.never) // stuck like the order: left unhandled at shutdown
      yield* bus.subscribe("OrderCreated", () => Effect.never)
      const [candle0, signal, order0] = [candleEvent(), signalEvent(), created("a")]
      for (const event of [candle0, signal, order0]) yield* bus.publish(event)
      yield* until(Effect.map(bus.stats, (s) => s.signal.processed === 1))
      yield* first.close // the drain times out: the candle and the order are left in flight

      const seen: Array<string> = []
      const subscribers = Layer.effectDiscard(Effect.gen(function*() {
        const bus = yield* EventBus
        for (const type of ["CandleClosed", "SignalGenerated", "OrderCreated"] as const) {
          yield* bus.subscribe(type, (event) => Effect.sync(() => void seen.push(`${event.type} ${event.id}`)))
        }
      }))
      const second = yield* open(
        JournalRecovery.layer.pipe(Layer.provideMerge(subscribers), Layer.provideMerge(journaledBus(filename, true)))
      )
      yield* until(Effect.sync(() => seen.length > 0))
      yield* Effect.sleep("50 millis")
      expect(seen).toEqual([`OrderCreated ${order0.id}`])
      const entries = yield* recorded(Context.get(second.context, EventLog))
      // recorded once each (the republished order is the same row), all done now
      expect(entries.map((e) => [e.event.id, e.done])).toEqual([[candle0.id, true], [signal.id, true], [order0.id, true]])
      yield* second.close
    }))

  it.live("a record that cannot be written stops the publish of a candle: it dies and nothing is enqueued", () =>
    Effect.gen(function*() {
      const broken = Journal.of({
        location: "broken",
        append: (e) => Effect.fail(new JournalError({ operation: `append ${e.id}`, cause: new Error("disk full") })),
        markDone: () => Effect.void,
        pending: Effect.succeed([]),
        outcomeOf: () => Effect.die("unused"),
        orderEvents: Effect.succeed([]),
        undecodable: Effect.succeed([])
      })
      const { close, context } = yield* open(
        MemoryEventBus.layer().pipe(
          Layer.provideMerge(JournalHooks.layerWith({ record: true })),
          Layer.provide(Layer.succeed(Journal, broken))
        )
      )
      const bus = Context.get(context, EventBus)
      const exit = yield* Effect.exit(bus.publish(candleEvent()))
      expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Die")
      expect((yield* bus.stats).data).toMatchObject({ size: 0, processed: 0 })
      yield* close
    }))
})

describe("the journal as an event log", () => {
  it.live("reads by type, symbol (any case), interval and queue, in seq order across pages; lists the candle series", () =>
    Effect.gen(function*() {
      const { close, context } = yield* open(SqliteJournal.layer({ filename: join(tmp(), "log.db") }))
      const journal = Context.get(context, Journal)
      const log = Context.get(context, EventLog)
      const events = [
        candleEvent("BTCUSDT", 0),
        candleEvent("ETHUSDT", 0),
        signalEvent("BTCUSDT"),
        candleEvent("BTCUSDT", 60_000),
        candleEvent("BTCUSDT", 0, "5m"),
        created("a") // BTCUSDT, on the order queue
      ]
      for (const event of events) {
        yield* journal.append(event, event.type === "OrderCreated" ? "order" : event.type === "SignalGenerated" ? "signal" : "data", {
          done: event.type !== "OrderCreated"
        })
      }
      const ids = (query: RecordedQuery) => Effect.map(recorded(log, query), (entries) => entries.map((e) => e.event.id))
      const [c0, e0, s0, c1, c5, o] = events.map((e) => e.id)
      expect(yield* ids({ pageSize: 2 })).toEqual([c0, e0, s0, c1, c5, o])
      expect(yield* ids({ types: ["CandleClosed"], symbol: "btcusdt", pageSize: 1 })).toEqual([c0, c1, c5])
      expect(yield* ids({ types: ["CandleClosed"], symbol: "BTCUSDT", interval: "1m" })).toEqual([c0, c1])
      expect(yield* ids({ symbol: "BTCUSDT", queue: "order" })).toEqual([o])
      expect(yield* ids({ symbol: "BTCUSDT", afterSeq: 3 })).toEqual([c1, c5, o])
      expect(yield* ids({ types: [] })).toEqual([])
      expect((yield* journal.pending).map((e) => e.event.id)).toEqual([o])
      expect(yield* log.candleSeries).toEqual([
        { symbol: "BTCUSDT", interval: "1m", candles: 2, firstSeq: 1 },
        { symbol: "ETHUSDT", interval: "1m", candles: 1, firstSeq: 2 },
        { symbol: "BTCUSDT", interval: "5m", candles: 1, firstSeq: 5 }
      ])
      yield* close
    }))

  it.live("an older file gains the type index when a run opens it, not when a reader does", () =>
    Effect.gen(function*() {
      const filename = join(tmp(), "old.db")
      const first = yield* open(SqliteJournal.layer({ filename }))
      yield* Context.get(first.context, Journal).append(created("a"), "order")
      yield* first.close
      const indexes = () => {
        const db = new Sqlite(filename)
        const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map((r) => r.name)
        db.close()
        return names.sort()
      }
      expect(indexes()).toEqual(["events_order", "events_pending", "events_type"])
      // a journal of an earlier trading-bus, with schema version 1 and no type index
      const db = new Sqlite(filename)
      db.exec("DROP INDEX events_type")
      db.close()
      const reader = yield* open(SqliteJournal.layer({ filename, mustExist: true }))
      expect((yield* Context.get(reader.context, Journal).orderEvents).length).toBe(1)
      yield* reader.close
      expect(indexes()).toEqual(["events_order", "events_pending"])
      const writer = yield* open(SqliteJournal.layer({ filename }))
      yield* writer.close
      expect(indexes()).toEqual(["events_order", "events_pending", "events_type"])
    }))
})

const Sqlite = createRequire(import.meta.url)("better-sqlite3") as new(file: string) => {
  exec: (sql: string) => void
  prepare: (sql: string) => { all: () => unknown }
  close: () => void
}
