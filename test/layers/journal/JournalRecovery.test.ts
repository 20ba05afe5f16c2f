import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, TestClock } from "effect"
import { type BusEvent, makeEventAt } from "../../../src/domain/BusEvent.js"
import { BrokerError } from "../../../src/domain/TradingErrors.js"
import * as JournaledBroker from "../../../src/layers/execution/JournaledBroker.js"
import * as JournalHooks from "../../../src/layers/journal/JournalHooks.js"
import * as JournalRecovery from "../../../src/layers/journal/JournalRecovery.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as PaperBroker from "../../../src/layers/execution/PaperBroker.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { Broker } from "../../../src/services/Broker.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { Journal, JournalError } from "../../../src/services/Journal.js"
import { captureLogs, order, settle } from "../../support/fixtures.js"
import { created, filled, rejected } from "../../support/journal.js"


/** A journal in memory, the bus's hooks on it, and the bus, as `engineLayer` composes them. */
const journaledBus = (journal: Layer.Layer<Journal> = SqliteJournal.layer({ filename: ":memory:" }).pipe(Layer.orDie)) =>
  MemoryEventBus.layer({ drainTimeout: "1 second" }).pipe(
    Layer.provideMerge(JournalHooks.layer),
    Layer.provideMerge(journal)
  )

describe("the journal on the bus", () => {
  it.scoped("write-ahead: an order event is journaled, not done, before its handler runs; done after", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const journal = yield* Journal
      const seen: Array<{ id: string; pending: ReadonlyArray<string> }> = []
      yield* bus.subscribe("OrderCreated", (event) =>
        Effect.map(journal.pending, (p) => void seen.push({ id: event.id, pending: p.map((e) => e.event.id) })))
      const event = created("a")
      yield* bus.publish(event)
      // committed before publish returned, whether or not the processor ran yet
      expect((yield* journal.pending).map((e) => e.event.id)).toEqual([event.id])
      yield* settle
      expect(seen).toEqual([{ id: event.id, pending: [event.id] }])
      expect(yield* journal.pending).toEqual([])
      // other queues are not journaled
      yield* bus.publish(makeEventAt("SignalGenerated", { symbol: "BTCUSDT", direction: "LONG", strength: 1, price: 1, strategy: "s", timestamp: 0 } as never, 0))
      expect(yield* journal.orderEvents).toHaveLength(1)
    }).pipe(Effect.provide(journaledBus())))

  it.scoped("a journal that fails makes the publish of an order die, and nothing is enqueued", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      let handled = 0
      yield* bus.subscribe("OrderCreated", () => Effect.sync(() => void handled++))
      const exit = yield* Effect.exit(bus.publish(created("a")))
      expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Die")
      yield* settle
      expect(handled).toBe(0)
      expect((yield* bus.stats).order).toMatchObject({ size: 0, processed: 0 })
    }).pipe(Effect.provide(journaledBus(Layer.succeed(Journal, brokenJournal)))))

  it.scoped("events left at shutdown stay not done, and the bus says they will be recovered", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const journal = yield* Journal // outlives the bus
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(journaledBus(Layer.succeed(Journal, journal)), scope).pipe(
        Effect.provide(logs.layer)
      )
      const bus = Context.get(context, EventBus)
      yield* bus.subscribe("OrderCreated", () => Effect.never) // stuck: the drain cannot finish
      yield* bus.publish(created("a"))
      yield* bus.publish(created("b"))
      yield* settle
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void).pipe(Effect.provide(logs.layer)))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* closing.await
      expect((yield* journal.pending).map((e) => (e.event.payload as { clientOrderId: string }).clientOrderId)).toEqual(["a", "b"])
      const warning = logs.entries.find((e) => e.message.includes("event bus stopped"))
      expect(warning?.message).toContain("journaled and will be recovered at the next start")
      expect(logs.entries.filter((e) => e.message.includes("will be recovered") && e.level === "ERROR")).toEqual([])
    }).pipe(Effect.provide(SqliteJournal.layer({ filename: ":memory:" }).pipe(Layer.orDie))))
})

describe("JournalRecovery", () => {
  it.scoped("republishes the pending events in their order before the source starts, and marks them done", () =>
    Effect.gen(function*() {
      const journal = yield* Journal
      const [a, b, done, fillOfA] = [created("a"), created("b"), created("done"), filled("a")]
      // a's outcome is journaled (and pending): a is not executed again, its fill is replayed
      for (const e of [a, b, done, fillOfA]) yield* journal.append(e, "order")
      yield* journal.markDone(done.id)
      const handled: Array<string> = []
      const recorder = Layer.scopedDiscard(Effect.gen(function*() {
        const bus = yield* EventBus
        const record = (e: BusEvent) => Effect.sync(() => void handled.push(`${e.type} ${(e.payload as { clientOrderId: string }).clientOrderId}`))
        yield* bus.subscribe("OrderCreated", record)
        yield* bus.subscribe("OrderFilled", record)
      }))
      // stands for the market-data source: its first event enters the FIFO order queue after everything recovered
      const source = Layer.effectDiscard(Effect.flatMap(EventBus, (bus) => bus.publish(created("from-source"))))
      yield* Layer.build(
        source.pipe(
          Layer.provideMerge(JournalRecovery.layer),
          Layer.provideMerge(recorder),
          Layer.provideMerge(journaledBus(Layer.succeed(Journal, journal)))
        )
      )
      yield* settle
      // a itself is not replayed: its fill is journaled
      expect(handled).toEqual(["OrderCreated b", "OrderFilled a", "OrderCreated from-source"])
      expect(yield* journal.pending).toEqual([])
    }).pipe(Effect.provide(SqliteJournal.layer({ filename: ":memory:" }).pipe(Layer.orDie))))
})

describe("JournaledBroker", () => {
  const broker = JournaledBroker.layer.pipe(Layer.provide(PaperBroker.layer()))
  const submit = (id: string) => Effect.flatMap(Broker, (b) => b.submit(order(id)))

  it.effect("returns a journaled fill as it was instead of executing the order again", () =>
    Effect.gen(function*() {
      const journal = yield* Journal
      yield* journal.append(created("a"), "order")
      yield* journal.append(filled("a", "recorded-7"), "order")
      const again = yield* submit("a")
      expect(again.tradeId).toBe("recorded-7") // the paper broker would have made paper-1
      const fresh = yield* submit("b")
      expect(fresh.tradeId).toMatch(/^paper-[0-9a-z]{10}-1$/) // the first execution of this broker
    }).pipe(Effect.provide(broker.pipe(Layer.provideMerge(SqliteJournal.layer({ filename: ":memory:" }).pipe(Layer.orDie))))))

  it.effect("returns a journaled rejection with its reason", () =>
    Effect.gen(function*() {
      const journal = yield* Journal
      yield* journal.append(rejected("r", "too big"), "order")
      const error = yield* Effect.flip(submit("r"))
      expect(error).toBeInstanceOf(BrokerError)
      expect(error).toMatchObject({ clientOrderId: "r", rejected: true, message: "too big" })
    }).pipe(Effect.provide(broker.pipe(Layer.provideMerge(SqliteJournal.layer({ filename: ":memory:" }).pipe(Layer.orDie))))))

  it.effect("does not execute when the journal cannot tell, and is the plain broker without a journal", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(submit("a").pipe(Effect.provide(broker.pipe(Layer.provide(Layer.succeed(Journal, brokenJournal))))))
      expect(error).toMatchObject({ rejected: false })
      expect(error.message).toContain("not executed")
      const plain = yield* submit("a").pipe(Effect.provide(broker))
      expect(plain.tradeId).toMatch(/^paper-[0-9a-z]{10}-1$/)
    }))
})

/** A journal whose storage is gone: every call fails. */
const brokenJournal: Journal["Type"] = (() => {
  const fail = (operation: string) => Effect.fail(new JournalError({ operation, cause: new Error("disk I/O error") }))
  return {
    location: "broken",
    append: (e) => fail(`append ${e.id}`),
    markDone: (id) => fail(`mark ${id} done`),
    pending: fail("read"),
    outcomeOf: () => fail("read"),
    orderEvents: fail("read"),
    undecodable: fail("read")
  }
})()



