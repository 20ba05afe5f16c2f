import { Context, type Effect } from "effect"
import type { Fill, Order } from "../domain/Order.js"
import type { BrokerError } from "../domain/TradingErrors.js"

/**
 * Executes orders. `clientOrderId` is the idempotency key: submitting the
 * same order twice executes it once and returns the same fill.
 */
export class Broker extends Context.Tag("trading-bus/Broker")<Broker, {
  readonly submit: (order: Order) => Effect.Effect<Fill, BrokerError>
}>() {}
