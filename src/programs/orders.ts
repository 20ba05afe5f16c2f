import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { formatDecimal } from "../domain/Decimal.js"
import type { Fill, Order, OrderStatus } from "../domain/Order.js"
import { fillsOf, netPositions } from "../layers/journal/JournalState.js"
import * as SqliteJournal from "../layers/journal/SqliteJournal.js"
import { Journal, type JournalEntry } from "../services/Journal.js"
import { runFlags } from "./RunOptions.js"

/** One fill of an order, as `orders --json` prints it (decimals as strings). */
export interface FillView {
  readonly tradeId: string
  readonly quantity: string
  readonly price: string
  readonly fee: string
  readonly status: Fill["status"]
  readonly filledAt: number
}

/** One order as the journal tells it, as `orders --json` prints it. */
export interface OrderView {
  readonly clientOrderId: string
  readonly symbol: string
  readonly side: Order["side"]
  readonly type: Order["type"]
  readonly quantity: string
  readonly price: string
  status: OrderStatus
  reason?: string
  readonly createdAt: number
  updatedAt: number
  /** Its OrderCreated is not done in the journal: the next `run` on this journal publishes it again. */
  pending: boolean
  readonly fills: Array<FillView>
}

const viewOf = (order: Order): OrderView => ({
  clientOrderId: order.clientOrderId,
  symbol: order.symbol,
  side: order.side,
  type: order.type,
  quantity: formatDecimal(order.quantity),
  price: formatDecimal(order.price),
  status: order.status,
  createdAt: order.createdAt,
  updatedAt: order.updatedAt,
  pending: false,
  fills: []
})

const final = (status: OrderStatus) => status === "FILLED" || status === "REJECTED" || status === "CANCELLED"

/** Folds the journal's order events (in append order) into one view per clientOrderId, in creation order. */
export const ordersOf = (entries: ReadonlyArray<JournalEntry>): ReadonlyArray<OrderView> => {
  const orders = new Map<string, OrderView>()
  for (const { done, event } of entries) {
    if (event.type === "OrderFilled") {
      const fill = event.payload
      const view = orders.get(fill.clientOrderId)
      if (view === undefined) continue // a fill of an order the journal never saw created
      const fv: FillView = {
        tradeId: fill.tradeId,
        quantity: formatDecimal(fill.quantity),
        price: formatDecimal(fill.price),
        fee: formatDecimal(fill.fee),
        status: fill.status,
        filledAt: fill.filledAt
      }
      // a recorded fill returned again is the same fill
      if (!view.fills.some((f) => f.tradeId === fv.tradeId && f.filledAt === fv.filledAt)) view.fills.push(fv)
      view.status = fill.status
      view.updatedAt = Math.max(view.updatedAt, fill.filledAt)
      continue
    }
    if (
      event.type !== "OrderCreated" && event.type !== "OrderPlaced" && event.type !== "OrderCancelled" &&
      event.type !== "OrderRejected"
    ) continue
    const order = event.payload
    let view = orders.get(order.clientOrderId)
    if (view === undefined) {
      view = viewOf(order)
      orders.set(order.clientOrderId, view)
    }
    if (event.type === "OrderCreated") {
      if (!done) view.pending = true
      continue
    }
    if (final(view.status) && event.type === "OrderPlaced") continue
    view.status = order.status
    view.updatedAt = Math.max(view.updatedAt, order.updatedAt)
    if (order.reason !== undefined) view.reason = order.reason
  }
  return [...orders.values()]
}

/** The orders as a table, one line each, with a count at the end. */
export const formatOrders = (orders: ReadonlyArray<OrderView>, location: string): string => {
  if (orders.length === 0) return `no orders in the journal ${location}`
  const rows = orders.map((o) => [
    o.clientOrderId,
    o.symbol,
    o.side,
    o.quantity,
    o.price,
    o.pending ? `${o.status} (pending)` : o.status,
    o.fills.length > 0
      ? o.fills.map((f) => `${f.quantity} @ ${f.price} fee ${f.fee} (${f.tradeId})`).join(", ")
      : o.reason ?? ""
  ])
  const header = ["ORDER", "SYMBOL", "SIDE", "QUANTITY", "PRICE", "STATUS", "FILLS / REASON"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()
  const count = (status: OrderStatus) => orders.filter((o) => o.status === status).length
  const pending = orders.filter((o) => o.pending).length
  return [
    line(header),
    ...rows.map(line),
    `${orders.length} orders: ${count("FILLED")} filled, ${count("REJECTED")} rejected, ${count("CANCELLED")} cancelled${
      pending > 0 ? `, ${pending} pending (the next run on this journal recovers them)` : ""
    }`
  ].join("\n")
}

/** The positions the journal's fills net to, as a restarted run restores them (its summary prints the same). */
export const formatPositions = (fills: ReadonlyArray<Fill>): string => {
  const net = [...netPositions(fills)].map(([symbol, quantity]) => `${symbol} ${formatDecimal(quantity)}`)
  return net.length === 0 ? "no positions: no fills" : `positions from ${fills.length} fills: ${net.join(", ")}`
}

/**
 * Prints the journal's orders, as a table (with the positions their fills net to) or as JSON. Rows that cannot
 * be decoded are left out and said on stderr, so the JSON on stdout stays whole.
 */
export const listOrders = (options: { readonly json: boolean }) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const entries = yield* journal.orderEvents
    const orders = ordersOf(entries)
    yield* Console.log(
      options.json
        ? JSON.stringify(orders, null, 2)
        : orders.length === 0
        ? formatOrders(orders, journal.location)
        : `${formatOrders(orders, journal.location)}\n${formatPositions(fillsOf(entries))}`
    )
    const damaged = yield* journal.undecodable
    if (damaged.length > 0) {
      yield* Console.error(
        `trading-bus: ${damaged.length} journaled events cannot be decoded and are left out: ${
          damaged.map((d) => `${d.type} ${d.id} (seq ${d.seq}${d.done ? "" : ", pending"}: ${d.reason})`).join("; ")
        }${damaged.some((d) => !d.done) ? "; the next trading-bus run moves the pending ones to the dead letters" : ""}`
      )
    }
  })

/** `trading-bus orders [--journal F] [--json]`. */
export const ordersCommand = Command.make(
  "orders",
  {
    journal: runFlags.journal,
    json: Options.boolean("json").pipe(Options.withDescription("Print the orders as a JSON array"))
  },
  ({ journal, json }) =>
    listOrders({ json }).pipe(Effect.provide(SqliteJournal.layer({ filename: journal, mustExist: true })))
).pipe(Command.withDescription(
  "List the orders in the journal with their status and fills (the journal must not be in use by a running trading-bus)"
))
