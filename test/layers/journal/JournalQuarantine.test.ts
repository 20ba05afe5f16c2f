import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { BusEvent } from "../../../src/domain/BusEvent.js"
import * as JournalHooks from "../../../src/layers/journal/JournalHooks.js"
import * as JournalRecovery from "../../../src/layers/journal/JournalRecovery.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as SqliteDeadLetters from "../../../src/layers/journal/SqliteDeadLetters.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { DeadLetters } from "../../../src/services/DeadLetters.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { Journal } from "../../../src/services/Journal.js"
import { captureLogs, settle } from "../../support/fixtures.js"
import { created, filled, withRawSqlite } from "../../support/journal.js"

const tmp = () => join(mkdtempSync(join(tmpdir(), "trading-bus-quarantine-")), "journal.db")

const store = (filename: string) =>
  SqliteDeadLetters.layer.pipe(Layer.provideMerge(SqliteJournal.layerWithSql({ filename })))

/** Writes pending events to a journal file and closes it. */
const writePending = (filename: string, events: ReadonlyArray<BusEvent>) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    for (const e of events) yield* journal.append(e, "order")
  }).pipe(Effect.provide(store(filename)))

describe("a damaged journal", () => {
  it.live("an undecodable pending event goes to the dead letters with its raw text; the others are recovered; said once", () =>
    Effect.gen(function*() {
      const filename = tmp()
      const [a, bad, b] = [created("a"), created("bad"), created("b")]
      yield* writePending(filename, [a, bad, b])
      withRawSqlite(filename, (db) => db.prepare("UPDATE events SET payload = ? WHERE id = ?").run("{not json", bad.id))

      const logs = captureLogs()
      const handled: Array<string> = []
      const recorder = Layer.effectDiscard(Effect.flatMap(EventBus, (bus) =>
        bus.subscribe("OrderCreated", (e) => Effect.sync(() => void handled.push(e.payload.clientOrderId)))))
      const result = yield* Effect.gen(function*() {
        const context = yield* Layer.build(
          JournalRecovery.layer.pipe(
            Layer.provideMerge(recorder),
            Layer.provideMerge(MemoryEventBus.layer().pipe(Layer.provideMerge(JournalHooks.layer))),
            Layer.provideMerge(store(filename))
          )
        )
        yield* settle
        yield* Effect.sleep("50 millis") // the processor runs the recovered events on its own fiber
        const journal = Context.get(context, Journal)
        return {
          pending: yield* journal.pending,
          undecodable: yield* journal.undecodable,
          letters: yield* Context.get(context, DeadLetters).undecodable
        }
      }).pipe(Effect.scoped, Effect.provide(logs.layer))

      expect(handled).toEqual(["a", "b"])
      expect(result.pending).toEqual([])
      expect(result.undecodable).toMatchObject([{ id: bad.id, type: "OrderCreated", payload: "{not json", done: true }])
      expect(result.letters).toMatchObject([{ handler: "journal-recovery", eventId: bad.id, eventType: "OrderCreated", raw: "{not json" }])
      const said = logs.entries.filter((e) => e.message.includes("cannot be decoded"))
      expect(said).toHaveLength(1)
      expect(said[0]!.level).toBe("WARN")
      expect(said[0]!.message).toContain(`OrderCreated ${bad.id}`)
      expect(said[0]!.message).toContain("moved to the dead letters (#1)")
    }))

  it.live("the reads leave an undecodable row out instead of failing", () =>
    Effect.gen(function*() {
      const filename = tmp()
      const [a, fillOfA] = [created("a"), filled("a")]
      yield* writePending(filename, [a, fillOfA])
      withRawSqlite(filename, (db) => db.prepare("UPDATE events SET payload = ? WHERE id = ?").run('{"clientOrderId":"a"}', fillOfA.id))
      const read = yield* Effect.gen(function*() {
        const journal = yield* Journal
        return { orders: yield* journal.orderEvents, pending: yield* journal.pending, undecodable: yield* journal.undecodable }
      }).pipe(Effect.provide(SqliteJournal.layer({ filename, mustExist: true })))
      expect(read.orders.map((e) => e.event.id)).toEqual([a.id])
      expect(read.pending.map((e) => e.event.id)).toEqual([a.id])
      expect(read.undecodable.map((u) => [u.id, u.type, u.done])).toEqual([[fillOfA.id, "OrderFilled", false]])
      expect(read.undecodable[0]!.reason).not.toBe("")
    }))

  it.live("the reason names the wrong field in one short line, not the whole event schema", () =>
    Effect.gen(function*() {
      const filename = tmp()
      const a = created("a")
      yield* writePending(filename, [a])
      withRawSqlite(filename, (db) => db.prepare("UPDATE events SET payload = ? WHERE id = ?").run('{"symbol":1}', a.id))
      const undecodable = yield* Effect.flatMap(Journal, (journal) => journal.undecodable).pipe(
        Effect.provide(SqliteJournal.layer({ filename, mustExist: true }))
      )
      const reason = undecodable[0]!.reason
      expect(reason).toContain("payload.clientOrderId")
      expect(reason).toContain("is missing")
      expect(reason).not.toContain("readonly")
      expect(reason.length).toBeLessThan(300)
    }))

  it.live("a journal missing its events table is refused, naming the table and what to do", () =>
    Effect.gen(function*() {
      const filename = tmp()
      yield* writePending(filename, [created("a")])
      withRawSqlite(filename, (db) => db.exec("DROP TABLE events"))
      for (const mustExist of [true, false]) {
        const error = yield* Effect.flip(Layer.build(SqliteJournal.layer({ filename, mustExist })).pipe(Effect.scoped))
        expect(error._tag).toBe("JournalConfigError")
        expect(error.option).toBe("journal")
        expect(error.reason).toContain("table events is missing")
        expect(error.reason).toContain("move the file away")
      }
    }))
})
