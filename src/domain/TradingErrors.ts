import { Data } from "effect"

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

/** The broker refused or failed to execute an order; `rejected` is true when the exchange said no (not a fault). */
export class BrokerError extends Data.TaggedError("BrokerError")<{
  readonly clientOrderId: string
  readonly message: string
  readonly rejected: boolean
  readonly cause?: unknown
}> {}
