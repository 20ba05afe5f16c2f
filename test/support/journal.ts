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
