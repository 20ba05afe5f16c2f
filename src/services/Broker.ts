import { Context, type Effect } from "effect"
import type { Fill, Order } from "../domain/Order.js"
import type { BrokerError } from "../domain/TradingErrors.js"

/** What a broker reports about an order while it works on it, before its outcome. */
export type OrderUpdate =
  /** The exchange acknowledged the order (it rests, or is being filled). */
  | { readonly _tag: "Placed"; readonly order: Order }
  /** A part of the order filled (status `PARTIALLY_FILLED`); the outcome is the last part. */
  | { readonly _tag: "PartlyFilled"; readonly fill: Fill }

export interface SubmitOptions {
  /** Called in order, once per acknowledgement and per part filled before the last. */
  readonly onUpdate?: (update: OrderUpdate) => Effect.Effect<void>
}

/**
 * Executes orders. `clientOrderId` is the idempotency key: submitting the
 * same order twice executes it once and returns the same fill. The fill
 * returned is the order's last: a broker that fills an order in parts reports
 * the earlier parts through `onUpdate`, so that the fills add up to the order.
 */
export class Broker extends Context.Tag("trading-bus/Broker")<Broker, {
  readonly submit: (order: Order, options?: SubmitOptions) => Effect.Effect<Fill, BrokerError>
  /**
   * Optional (an exchange's broker): asks the exchange to cancel an order still open. Its `submit` then ends as
   * cancelled, after the parts that filled. Fails when the exchange has no such open order.
   */
  readonly cancel?: (order: Pick<Order, "clientOrderId" | "symbol">) => Effect.Effect<void, BrokerError>
}>() {}

/** A wrapper's `cancel`: the wrapped broker's, when it has one. */
export const cancelOf = (inner: Broker["Type"]): Pick<Broker["Type"], "cancel"> =>
  inner.cancel === undefined ? {} : { cancel: inner.cancel }
