import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Layer, Logger, LogLevel, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as JournalHooks from "../../../src/layers/journal/JournalHooks.js"
import * as JournalRecovery from "../../../src/layers/journal/JournalRecovery.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import { makeRetrying } from "../../../src/layers/journal/RetryingHandlers.js"
import * as SqliteDeadLetters from "../../../src/layers/journal/SqliteDeadLetters.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { DeadLetters } from "../../../src/services/DeadLetters.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { Journal, JournalError } from "../../../src/services/Journal.js"
import { created, filled } from "../../support/journal.js"

/**
 * A full disk, for real: SQLite's `max_page_count` caps the journal file at its current size, and the
 * next append that needs a new page fails with SQLITE_FULL, as it does when the disk has no room left.
 */
const journaledBus = (filename: string) =>
  MemoryEventBus.layer().pipe(
    Layer.provideMerge(JournalHooks.layer),
    Layer.provideMerge(SqliteJournal.layerWithSql({ filename }))
  )

const capAtCurrentSize = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [{ page_count }] = yield* sql.unsafe<{ page_count: number }>("PRAGMA page_count")
  yield* sql.unsafe(`PRAGMA max_page_count = ${page_count}`)
})

const journalErrorOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit)
    ? Option.getOrUndefined(Cause.dieOption(exit.cause)) ?? Option.getOrUndefined(Cause.failureOption(exit.cause))
    : undefined

describe("the journal on a full disk", () => {
  it.live("a publish the journal cannot record fails with a clear error and enqueues nothing; orders flow again once there is room", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const journal = yield* Journal
      const sql = yield* SqlClient.SqlClient
      const handled: Array<string> = []
      yield* bus.subscribe("OrderCreated", (e) => Effect.sync(() => handled.push(e.payload.clientOrderId)))
      yield* bus.publish(created("before"))
      yield* capAtCurrentSize

      // fill the last free room: the first publish that needs a new page fails
      const accepted: Array<string> = []
      let failure: unknown
      for (let i = 0; i < 10_000 && failure === undefined; i++) {
        const id = `o-${i}`
        const exit = yield* Effect.exit(bus.publish(created(id)))
        if (Exit.isSuccess(exit)) accepted.push(id)
        else failure = journalErrorOf(exit)
      }
      expect(failure).toBeInstanceOf(JournalError)
      const error = failure as JournalError
      expect(error.code).toBe("SQLITE_FULL")
      expect(error.message).toMatch(/failed to append OrderCreated .*: the disk is full \(database or disk is full\)/)
      expect(error.message).toContain("new orders are refused until the journal can write again: free disk space")

      yield* Effect.sleep("50 millis")
      const stats = yield* bus.stats
      // nothing was enqueued without its journal row: every handled order is journaled, none is lost
      const journaled = (yield* journal.orderEvents).map((e) => e.event.payload).map((o) => (o as { clientOrderId: string }).clientOrderId)
      expect(handled).toEqual(["before", ...accepted])
      expect(journaled).toEqual(["before", ...accepted])
      expect(stats.order.processed).toBe(1 + accepted.length)

      // later publishes keep failing the same way while the disk is full
      const again = yield* Effect.exit(bus.publish(created("while-full")))
      expect(journalErrorOf(again)).toBeInstanceOf(JournalError)
      expect(handled).not.toContain("while-full")

      // room again: orders are journaled and handled
      yield* sql.unsafe("PRAGMA max_page_count = 1073741823")
      yield* bus.publish(created("after"))
      yield* Effect.sleep("50 millis")
      expect(handled.at(-1)).toBe("after")
      expect((yield* journal.pending).map((e) => e.event.id)).toEqual([])
    }).pipe(
      Effect.provide(journaledBus(join(mkdtempSync(join(tmpdir(), "trading-bus-full-")), "journal.db"))),
      Logger.withMinimumLogLevel(LogLevel.None)
    ), 30_000)

  it.live("an order whose fill cannot be journaled (nor dead-lettered) stays pending, and the next start executes it once", () =>
    Effect.gen(function*() {
      const filename = join(mkdtempSync(join(tmpdir(), "trading-bus-full-")), "journal.db")
      const gate = yield* Deferred.make<void>()
      // an execution handler, as the engine's: retried, dead-lettered, publishing the fill on the order queue
      const execution = (executed: Array<string>) =>
        Layer.scopedDiscard(Effect.gen(function*() {
          const bus = yield* EventBus
          const journal = yield* Journal
          const retrying = yield* makeRetrying
          yield* bus.subscribe("OrderCreated", retrying((e) =>
            Effect.gen(function*() {
              const id = e.payload.clientOrderId
              // the broker's idempotency check (JournaledBroker): a journaled outcome is not executed again
              if (Option.isSome(yield* journal.outcomeOf(id))) return
              yield* Deferred.await(gate)
              executed.push(id)
              yield* bus.publish(filled(id))
            }).pipe(Effect.orDie), { name: "execution", queue: "order", maxAttempts: 3, initialDelay: "1 millis", jitter: false }))
        }))
      const engine = (executed: Array<string>) =>
        JournalRecovery.layer.pipe(
          Layer.provideMerge(execution(executed)),
          Layer.provideMerge(MemoryEventBus.layer()),
          Layer.provideMerge(JournalHooks.layer),
          Layer.provideMerge(SqliteDeadLetters.layer),
          Layer.provideMerge(SqliteJournal.layerWithSql({ filename })),
          Layer.orDie
        )
      /** Appends until the capped file has no room left for it. */
      const fillUp = <E>(append: (i: number) => Effect.Effect<unknown, E>) =>
        Effect.gen(function*() {
          for (let i = 0; i < 100_000; i++) {
            if (Exit.isFailure(yield* Effect.exit(append(i)))) return i
          }
          return -1
        })

      const first: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const bus = yield* EventBus
        const journal = yield* Journal
        const deadLetters = yield* DeadLetters
        yield* bus.publish(created("victim"))
        // the disk fills up while the order is being executed: no room for its fill, nor for a dead letter
        yield* capAtCurrentSize
        expect(yield* fillUp((i) => journal.append(created(`padding-${i}`), "order", { done: true }))).toBeGreaterThanOrEqual(0)
        expect(
          yield* fillUp((i) =>
            deadLetters.add({ handler: "padding", queue: "order", attempts: 1, cause: "padding", event: created(`dl-${i}`), failedAt: 0 })
          )
        ).toBeGreaterThanOrEqual(0)
        yield* Deferred.succeed(gate, undefined)
        yield* Effect.sleep("200 millis") // the retries run out; the dead letter cannot be stored either
        expect(first).toEqual(["victim", "victim", "victim"])
        expect(Option.isNone(yield* journal.outcomeOf("victim"))).toBe(true)
        expect((yield* journal.pending).map((e) => e.event.id)).toContain(
          (yield* journal.orderEvents).find((e) => e.event.type === "OrderCreated" && e.event.payload.clientOrderId === "victim")!.event.id
        )
      }).pipe(Effect.provide(engine(first))))

      // room again: the next start publishes the kept order again, executes it once and journals its fill
      const second: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const journal = yield* Journal
        yield* Effect.sleep("100 millis")
        expect(second).toEqual(["victim"])
        expect(Option.isSome(yield* journal.outcomeOf("victim"))).toBe(true)
        expect(yield* journal.pending).toEqual([])
      }).pipe(Effect.provide(engine(second))))
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)), 30_000)
})
