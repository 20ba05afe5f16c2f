import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Logger, LogLevel, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as JournalHooks from "../../src/layers/JournalHooks.js"
import * as MemoryEventBus from "../../src/layers/MemoryEventBus.js"
import * as SqliteJournal from "../../src/layers/SqliteJournal.js"
import { EventBus } from "../../src/services/EventBus.js"
import { Journal, JournalError } from "../../src/services/Journal.js"
import { created } from "../support/journal.js"

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
})
