import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqliteJournal from "../../src/layers/journal/SqliteJournal.js"
import { formatOrders, ordersOf, type OrderView } from "../../src/programs/orders.js"
import { Journal } from "../../src/services/Journal.js"
import { runCli } from "../support/cli.js"
import { created, filled, rejected, withRawSqlite } from "../support/journal.js"

const tmp = () => mkdtempSync(join(tmpdir(), "trading-bus-orders-"))

/** A filled order (its fill journaled twice, as a recorded outcome returned again is), a rejected one, one in flight. */
const writeJournal = (filename: string) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const events = [created("a"), filled("a", "paper-1", 5), created("b"), rejected("b", "too big"), created("c")]
    for (const e of events) yield* journal.append(e, "order")
    for (const e of events.slice(0, 4)) yield* journal.markDone(e.id)
    yield* journal.append({ ...filled("a", "paper-1", 5), id: "returned-again" }, "order")
  }).pipe(Effect.provide(SqliteJournal.layer({ filename })))

describe("trading-bus orders", () => {
  it.live("lists each order once with its status and fills, as a table and as JSON", () =>
    Effect.gen(function*() {
      const filename = join(tmp(), "journal.db")
      yield* writeJournal(filename)
      const [table, json] = yield* Effect.promise(() =>
        Promise.all([runCli(["orders", "--journal", filename]), runCli(["orders", "--journal", filename, "--json"])])
      )
      expect(table.code).toBe(0)
      expect(table.stdout).toMatch(/^ORDER\s+SYMBOL\s+SIDE\s+QUANTITY\s+PRICE\s+STATUS\s+FILLS \/ REASON$/m)
      expect(table.stdout).toMatch(/^a\s+BTCUSDT\s+BUY\s+0\.01\s+42000\.1\s+FILLED\s+0\.01 @ 42021\.10005 fee 0\.42 \(paper-1\)$/m)
      expect(table.stdout).toMatch(/^b\s+BTCUSDT\s+BUY\s+0\.01\s+42000\.1\s+REJECTED\s+too big$/m)
      expect(table.stdout).toMatch(/^c\s+.*NEW \(pending\)$/m)
      expect(table.stdout).toContain("3 orders: 1 filled, 1 rejected, 0 cancelled, 1 pending")
      // what a run on this journal restores: the fill of a, once
      expect(table.stdout).toContain("positions from 1 fills: BTCUSDT 0.01")
      expect(json.code).toBe(0)
      const orders = JSON.parse(json.stdout) as ReadonlyArray<OrderView>
      expect(orders.map((o) => [o.clientOrderId, o.status, o.pending, o.fills.length])).toEqual([
        ["a", "FILLED", false, 1],
        ["b", "REJECTED", false, 0],
        ["c", "NEW", true, 0]
      ])
      expect(orders[0]!.fills[0]).toEqual({
        tradeId: "paper-1",
        quantity: "0.01",
        price: "42021.10005",
        fee: "0.42",
        status: "FILLED",
        filledAt: 5
      })
      expect(orders[1]!.reason).toBe("too big")
    }), 30_000)

  it.live("a damaged journal: an undecodable row is left out and said on stderr; a missing table exits 2 naming it", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const [damaged, dropped] = [join(dir, "damaged.db"), join(dir, "dropped.db")]
      yield* writeJournal(damaged)
      yield* writeJournal(dropped)
      withRawSqlite(damaged, (db) => db.prepare("UPDATE events SET payload = '{not json' WHERE client_order_id = 'c'").run())
      withRawSqlite(dropped, (db) => db.exec("DROP TABLE events"))
      const [json, missing] = yield* Effect.promise(() =>
        Promise.all([runCli(["orders", "--journal", damaged, "--json"]), runCli(["orders", "--journal", dropped, "--json"])])
      )
      expect(json.code).toBe(0)
      expect((JSON.parse(json.stdout) as ReadonlyArray<OrderView>).map((o) => o.clientOrderId)).toEqual(["a", "b"])
      expect(json.stderr).toMatch(/^trading-bus: 1 journaled events cannot be decoded and are left out: OrderCreated \S+ \(seq 5, pending: .*\); the next trading-bus run moves the pending ones to the dead letters\n$/)
      expect(missing.code).toBe(2)
      expect(missing.stderr).toContain("table events is missing")
      expect(missing.stderr.trim().split("\n")).toHaveLength(1)
    }), 30_000)

  it.live("an empty journal has no orders", () =>
    Effect.gen(function*() {
      const orders = yield* Effect.flatMap(Journal, (j) => j.orderEvents).pipe(
        Effect.provide(SqliteJournal.layer({ filename: ":memory:" }))
      )
      expect(formatOrders(ordersOf(orders), ":memory:")).toBe("no orders in the journal :memory:")
    }))

  it.live("a journal it cannot use exits 2 with what to do, for orders and for run", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const corrupt = join(dir, "corrupt.db")
      writeFileSync(corrupt, "not a database ".repeat(100))
      const [orders, run, missing] = yield* Effect.promise(() =>
        Promise.all([
          runCli(["orders", "--journal", corrupt]),
          runCli(["run", "--duration", "1s"], { TRADING_BUS_JOURNAL: corrupt }),
          runCli(["orders", "--journal", join(dir, "missing.db")])
        ])
      )
      for (const result of [orders, run]) {
        expect(result.code).toBe(2)
        expect(result.stderr).toContain(`invalid --journal "${corrupt}"`)
        expect(result.stderr).toContain("not a readable SQLite database")
      }
      expect(missing.code).toBe(2)
      expect(missing.stderr).toContain("no such file")
    }), 30_000)
})
