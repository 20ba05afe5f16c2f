import { Data } from "effect"
import type { Order } from "./Order.js"

/** A strategy could not analyze a candle. */
export class StrategyError extends Data.TaggedError("StrategyError")<{
  readonly strategy: string
  readonly symbol: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** The order manager could not turn a signal into an order (sizing, a risk check). */
export class OrderError extends Data.TaggedError("OrderError")<{
  readonly symbol: string
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * The order manager refused to create an order a signal called for (a risk limit, a size that rounds to zero):
 * a business outcome, not a fault. `order` is the order it would have created, with status `REJECTED` and the
 * reason: the engine publishes it as `OrderRejected`.
 */
export class OrderRefused extends Data.TaggedError("OrderRefused")<{
  readonly order: Order
}> {
  override get message() {
    return this.order.reason ?? "refused"
  }
}

/**
 * The broker refused or failed to execute an order; `rejected` is true when the order has ended without (the rest
 * of) its fill: the exchange said no, or `ended` says it was cancelled or expired (a business outcome, not a fault).
 */
export class BrokerError extends Data.TaggedError("BrokerError")<{
  readonly clientOrderId: string
  readonly message: string
  readonly rejected: boolean
  /** How a `rejected` order ended on the exchange; absent: refused (`REJECTED`). */
  readonly ended?: "CANCELLED" | "EXPIRED"
  readonly cause?: unknown
}> {}
