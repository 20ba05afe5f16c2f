import { createRequire } from "node:module"
import { BigDecimal } from "effect"
import { type BusEvent, makeEventAt } from "../../src/domain/BusEvent.js"
import type { Fill } from "../../src/domain/Order.js"
import { order } from "./fixtures.js"

/** A full fill of `order(clientOrderId)`, with an exact price that encodes with trailing zeros. */
export const fill = (clientOrderId: string, tradeId = "t-1", filledAt = 5): Fill => ({
  clientOrderId,
  tradeId,
  symbol: "BTCUSDT",
  side: "BUY",
  type: "MARKET",
  quantity: BigDecimal.unsafeFromString("0.01"),
  price: BigDecimal.unsafeFromString("42021.1000500"),
  fee: BigDecimal.unsafeFromString("0.42"),
  status: "FILLED",
  orderCreatedAt: 0,
  filledAt
})

export const created = (clientOrderId: string): BusEvent =>
  makeEventAt("OrderCreated", order(clientOrderId), 1, { source: "test" })

export const filled = (clientOrderId: string, tradeId?: string, filledAt?: number): BusEvent =>
  makeEventAt("OrderFilled", fill(clientOrderId, tradeId, filledAt), 2)

export const rejected = (clientOrderId: string, reason: string): BusEvent =>
  makeEventAt("OrderRejected", { ...order(clientOrderId), status: "REJECTED", reason }, 3)

/** The journal file opened by SQLite itself (better-sqlite3), as a user or another tool would: to damage it, or to read it back. */
export interface RawSqlite {
  exec: (sql: string) => void
  prepare: (sql: string) => { run: (...params: ReadonlyArray<unknown>) => unknown; all: (...params: ReadonlyArray<unknown>) => Array<Record<string, unknown>> }
  close: () => void
}
export const rawSqlite = (filename: string): RawSqlite =>
  new (createRequire(import.meta.url)("better-sqlite3") as new(file: string) => RawSqlite)(filename)

/** Runs `use` on the file opened by better-sqlite3, and closes it. */
export const withRawSqlite = <A>(filename: string, use: (db: RawSqlite) => A): A => {
  const db = rawSqlite(filename)
  try {
    return use(db)
  } finally {
    db.close()
  }
}
