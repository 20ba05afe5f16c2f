import { BigDecimal, Effect, Option } from "effect"
import { type Fill, type Order, positionChangeOf } from "../../domain/Order.js"
import { Journal, type JournalEntry } from "../../services/Journal.js"

/** A fill's identity: the same fill journaled or delivered twice (a recorded outcome returned again) counts once. */
export const fillKey = (fill: Fill): string => `${fill.clientOrderId} ${fill.tradeId} ${fill.filledAt}`

/** The distinct journaled fills, in append order. */
export const fillsOf = (entries: ReadonlyArray<JournalEntry>): ReadonlyArray<Fill> => {
  const seen = new Set<string>()
  const fills: Array<Fill> = []
  for (const { event } of entries) {
    if (event.type !== "OrderFilled" || seen.has(fillKey(event.payload))) continue
    seen.add(fillKey(event.payload))
    fills.push(event.payload)
  }
  return fills
}

/** The signed quantity per symbol the fills net to (BUY adds, SELL subtracts), as a Portfolio restored from them holds. */
export const netPositions = (fills: ReadonlyArray<Fill>): ReadonlyMap<string, BigDecimal.BigDecimal> => {
  const net = new Map<string, BigDecimal.BigDecimal>()
  for (const fill of fills) {
    const signed = positionChangeOf(fill)
    net.set(fill.symbol, BigDecimal.normalize(BigDecimal.sum(net.get(fill.symbol) ?? BigDecimal.fromBigInt(0n), signed)))
  }
  return net
}

/**
 * The orders a restart publishes again and the broker has yet to execute: a pending `OrderCreated` with no
 * journaled fill, rejection or cancellation, once per clientOrderId (a deferred order can be pending twice).
 */
export const openOrdersOf = (entries: ReadonlyArray<JournalEntry>): ReadonlyArray<Order> => {
  const settled = new Set<string>()
  for (const { event } of entries) {
    if (
      (event.type === "OrderFilled" && event.payload.status === "FILLED") || event.type === "OrderRejected" ||
      event.type === "OrderCancelled"
    ) {
      settled.add(event.payload.clientOrderId)
    }
  }
  const open = new Map<string, Order>()
  for (const { done, event } of entries) {
    if (event.type !== "OrderCreated" || done || settled.has(event.payload.clientOrderId)) continue
    if (!open.has(event.payload.clientOrderId)) open.set(event.payload.clientOrderId, event.payload)
  }
  return [...open.values()]
}

/**
 * The journal's open orders (see `openOrdersOf`), for an order manager to count against its limits from the
 * start; none without a Journal in the context, or when it cannot be read (said in a warning: recovery fails
 * on the same read anyway).
 */
export const recoveredOpenOrders: Effect.Effect<ReadonlyArray<Order>> = Effect.flatMap(
  Effect.serviceOption(Journal),
  Option.match({
    onNone: () => Effect.succeed([]),
    onSome: (journal) =>
      journal.orderEvents.pipe(
        Effect.map(openOrdersOf),
        Effect.catchAll((error) =>
          Effect.as(Effect.logWarning(`cannot read the open orders of the journal ${journal.location}: ${error.message}`), [])
        )
      )
  })
)
