import { BigDecimal, Schema } from "effect"
import { Decimal } from "./Decimal.js"

export const OrderSide = Schema.Literal("BUY", "SELL")
export type OrderSide = typeof OrderSide.Type

export const OrderType = Schema.Literal("MARKET", "LIMIT")
export type OrderType = typeof OrderType.Type

export const OrderStatus = Schema.Literal("NEW", "PLACED", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED")
export type OrderStatus = typeof OrderStatus.Type

/**
 * An order. `clientOrderId` is the idempotency key: an order with a given id
 * is executed at most once, however often its event is delivered.
 * `price` is the limit price of a LIMIT order and the reference price a
 * MARKET order was sized with.
 */
export const Order = Schema.Struct({
  clientOrderId: Schema.String,
  symbol: Schema.String,
  side: OrderSide,
  type: OrderType,
  quantity: Decimal,
  price: Decimal,
  status: OrderStatus,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  reason: Schema.optional(Schema.String)
})
export interface Order extends Schema.Schema.Type<typeof Order> {}

export const FillStatus = Schema.Literal("PARTIALLY_FILLED", "FILLED")
export type FillStatus = typeof FillStatus.Type

/**
 * An execution of (part of) an order, at an exact price, with its fee in the quote asset. An order filled in
 * parts has one fill per part (`PARTIALLY_FILLED`, the last `FILLED`), each with its own quantity, price and fee;
 * an exchange's fills also carry the order's cumulative quantity and quote so far and the commission as charged.
 */
export const Fill = Schema.Struct({
  clientOrderId: Schema.String,
  tradeId: Schema.String,
  symbol: Schema.String,
  side: OrderSide,
  type: OrderType,
  quantity: Decimal,
  price: Decimal,
  fee: Decimal,
  status: FillStatus,
  orderCreatedAt: Schema.Number,
  filledAt: Schema.Number,
  /** The order's executed quantity with this fill included. */
  cumulativeQuantity: Schema.optional(Decimal),
  /** The order's executed quote (sum of quantity x price) with this fill included. */
  cumulativeQuote: Schema.optional(Decimal),
  /** The commission as the exchange charged it, in `commissionAsset` (`fee` is its value in the quote asset). */
  commission: Schema.optional(Decimal),
  commissionAsset: Schema.optional(Schema.String),
  /**
   * What the position moved by when the commission was taken from the base asset (a BUY on Binance receives
   * `quantity` less the commission); absent: `quantity`. The commission's value is `fee` either way.
   */
  netQuantity: Schema.optional(Decimal)
})

/** What a fill moves its symbol's position by, signed: bought positive, sold negative. */
export const positionChangeOf = (fill: Fill): BigDecimal.BigDecimal => {
  const quantity = fill.netQuantity ?? fill.quantity
  return fill.side === "BUY" ? quantity : BigDecimal.negate(quantity)
}
export interface Fill extends Schema.Schema.Type<typeof Fill> {}

/** What Binance accepts as a `newClientOrderId`: at most 36 of these characters. */
export const clientOrderIdPattern = /^[.A-Z:/a-z0-9_-]{1,36}$/

const runTagAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

/**
 * A random tag of `length` base-36 characters (10: about 51 bits) for one run of one component, from the
 * platform's cryptographic generator. Ids built on it (client order ids, paper trade ids) differ between runs
 * and processes, so a journal never hands one run's outcome to another run's order.
 */
export const makeRunTag = (length = 10): string => {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(length))
  let tag = ""
  for (const b of bytes) tag += runTagAlphabet[b % 36] // 256 % 36 = 4: a negligible bias, not a secret
  return tag
}
