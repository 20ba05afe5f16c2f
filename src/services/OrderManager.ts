import { Context, type Effect, type Option } from "effect"
import type { Order } from "../domain/Order.js"
import type { Signal } from "../domain/Signal.js"
import type { OrderError, OrderRefused } from "../domain/TradingErrors.js"

/**
 * Sizes a signal into an order and checks it against the risk limits; `None` when the signal calls for no
 * order. A risk refusal fails with `OrderRefused` (the engine publishes it as `OrderRejected`); a signal it
 * cannot work with (no valid price) fails with `OrderError`. One that decides when called and returns a completed
 * Effect (as `RiskOrderManager` does over a portfolio it can read synchronously) spares the engine a fiber step per
 * signal; a lazy Effect works too.
 */
export class OrderManager extends Context.Tag("trading-bus/OrderManager")<OrderManager, {
  readonly createOrder: (signal: Signal) => Effect.Effect<Option.Option<Order>, OrderError | OrderRefused>
}>() {}
