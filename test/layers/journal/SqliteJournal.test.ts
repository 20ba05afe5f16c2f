import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Exit, Layer, Option, Schema, Scope } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BusEvent, BusEventSchema } from "../../../src/domain/BusEvent.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { Journal } from "../../../src/services/Journal.js"
import { created, fill, filled, rejected } from "../../support/journal.js"

const tmp = () => mkdtempSync(join(tmpdir(), "trading-bus-journal-"))
const memory = SqliteJournal.layer({ filename: ":memory:" })

const wire = Schema.encodeSync(BusEventSchema)
const ids = (entries: ReadonlyArray<{ readonly event: BusEvent }>) => entries.map((e) => e.event.id)

/** Opens a journal in a scope of its own, to reopen the same file afterwards. */
const openJournal = (options: SqliteJournal.SqliteJournalOptions) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(SqliteJournal.layer(options), scope)
    return { journal: context.unsafeMap.get(Journal.key) as Journal["Type"], close: Scope.close(scope, Exit.void) }
  })

describe("SqliteJournal", () => {
  it.effect("keeps pending events in append order, forgets them once done, and decodes them exactly", () =>
    Effect.gen(function*() {
      const journal = yield* Journal
      const [a, b, c] = [created("a"), created("b"), filled("a")]
      yield* journal.append(a, "order")
      yield* journal.append(b, "order")
      yield* journal.append(c, "order")
      expect(ids(yield* journal.pending)).toEqual([a.id, b.id, c.id])
      yield* journal.markDone(b.id)
      yield* journal.markDone("unknown")
      const pending = yield* journal.pending
      expect(ids(pending)).toEqual([a.id, c.id])
      expect(pending[0]!.seq).toBeLessThan(pending[1]!.seq)
      expect(pending[0]).toMatchObject({ queue: "order", done: false })
      // decimals survive the round trip as exact values, the envelope as it was
      expect(wire(pending[0]!.event)).toEqual(wire(a))
      expect(BigDecimal.equals((pending[1]!.event as BusEvent<"OrderFilled">).payload.price, fill("a").price)).toBe(true)
      expect(ids(yield* journal.orderEvents)).toEqual([a.id, b.id, c.id])
    }).pipe(Effect.provide(memory)))

  it.effect("appends idempotently: the same event id, or a recorded outcome returned again, is one row", () =>
    Effect.gen(function*() {
      const journal = yield* Journal
      const a = created("a")
      yield* journal.append(a, "order")
      yield* journal.append(a, "order")
      const f = filled("a")
      yield* journal.append(f, "order")
      yield* journal.append({ ...f, id: "same-fill-again" }, "order") // the same payload under a new event
      yield* journal.append(filled("a", "t-2", 9), "order") // a second, different fill is a fact of its own
      yield* journal.append(rejected("r", "no"), "order")
      yield* journal.append(rejected("r", "no, again"), "order") // one rejection per order
      const events = (yield* journal.orderEvents).map((e) => e.event.type)
      expect(events).toEqual(["OrderCreated", "OrderFilled", "OrderFilled", "OrderRejected"])
    }).pipe(Effect.provide(memory)))

  it.effect("finds an order's first recorded outcome, fill or rejection", () =>
    Effect.gen(function*() {
      const journal = yield* Journal
      yield* journal.append(created("a"), "order")
      expect(yield* journal.outcomeOf("a")).toEqual(Option.none())
      const f = filled("a")
      yield* journal.append(f, "order")
      yield* journal.append(filled("a", "t-2", 9), "order")
      expect(Option.map(yield* journal.outcomeOf("a"), (o) => o.id)).toEqual(Option.some(f.id))
      yield* journal.append(rejected("r", "risk"), "order")
      const outcome = Option.getOrThrow(yield* journal.outcomeOf("r"))
      expect(outcome.type === "OrderRejected" && outcome.payload.reason).toBe("risk")
    }).pipe(Effect.provide(memory)))

  it.live("a file keeps what is not done across a reopen, creating its folder", () =>
    Effect.gen(function*() {
      const filename = join(tmp(), "nested", "dir", "journal.db")
      const first = yield* openJournal({ filename })
      const [a, b] = [created("a"), created("b")]
      yield* first.journal.append(a, "order")
      yield* first.journal.append(b, "order")
      yield* first.journal.markDone(a.id)
      yield* first.close
      const second = yield* openJournal({ filename })
      expect(ids(yield* second.journal.pending)).toEqual([b.id])
      yield* second.close
    }))

  describe("refuses a file it cannot use, saying what to do", () => {
    const refusal = (options: SqliteJournal.SqliteJournalOptions) =>
      Effect.flip(Effect.scoped(Layer.build(SqliteJournal.layer(options))))

    it.live("locked by another process (or connection)", () =>
      Effect.gen(function*() {
        const filename = join(tmp(), "journal.db")
        const owner = yield* openJournal({ filename })
        const error = yield* refusal({ filename, busyTimeout: "50 millis" })
        expect(error).toBeInstanceOf(SqliteJournal.JournalConfigError)
        expect(error).toMatchObject({ option: "journal", value: filename })
        expect(error.reason).toContain("locked by another process")
        yield* owner.close
        // once the owner is gone the file opens
        yield* Effect.scoped(Layer.build(SqliteJournal.layer({ filename })))
      }))

    it.live("corrupt: not a SQLite file", () =>
      Effect.gen(function*() {
        const filename = join(tmp(), "journal.db")
        writeFileSync(filename, "this is not a database, just text that is long enough to have a header ".repeat(20))
        const error = yield* refusal({ filename })
        expect(error.reason).toContain("not a readable SQLite database")
        expect(error.message).toContain(filename)
      }))

    it.live("written by a newer schema version", () =>
      Effect.gen(function*() {
        const filename = join(tmp(), "journal.db")
        const { close } = yield* openJournal({ filename })
        yield* close
        yield* bumpUserVersion(filename, SqliteJournal.schemaVersion + 1)
        const error = yield* refusal({ filename })
        expect(error.reason).toContain(`journal schema version ${SqliteJournal.schemaVersion + 1}`)
        expect(error.reason).toContain("upgrade trading-bus")
      }))

    it.live("a missing file when it must exist", () =>
      Effect.gen(function*() {
        const error = yield* refusal({ filename: join(tmp(), "none.db"), mustExist: true })
        expect(error.reason).toContain("no such file")
      }))
  })
})

/** Sets `PRAGMA user_version` the way a newer trading-bus would, through SQLite itself. */
const bumpUserVersion = (filename: string, version: number) =>
  Effect.promise(async () => {
    const { createRequire } = await import("node:module")
    const Sqlite = createRequire(import.meta.url)("better-sqlite3") as new(file: string) => {
      pragma: (s: string) => unknown
      close: () => void
    }
    const db = new Sqlite(filename)
    db.pragma(`user_version = ${version}`)
    db.close()
  })
