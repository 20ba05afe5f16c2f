import { Context, type Effect } from "effect"
import type { Fill } from "../domain/Order.js"
import type { JournalError } from "./Journal.js"

/**
 * A step of an order's way to an exchange: recorded before it is taken ("sending") or once it is known, so that a
 * restart in the middle continues the same way (an order sent before a crash is asked about, never sent blind).
 */
export type OrderStepKind =
  /** About to send it: from here on its fate is unknown until the exchange says. */
  | "sending"
  /** The exchange acknowledged it. */
  | "placed"
  /** A send whose outcome is unknown (a timeout, a dropped connection, a 5XX, -1007). */
  | "unknown"
  /** The exchange said, for longer than the grace, that it does not have it: it may be sent again. */
  | "not-found"
  /** Its outcome is known (filled, rejected, cancelled or expired). */
  | "ended"

export interface OrderStep {
  readonly clientOrderId: string
  readonly step: OrderStepKind
  /** Milliseconds since the epoch. */
  readonly at: number
  /** What was learned, such as "HTTP 503: ..." or "orderId 12 FILLED". */
  readonly detail?: string
}

/** The durable record of each order's steps (in the journal's file), and the fills journaled for an order. */
export class OrderSteps extends Context.Tag("trading-bus/OrderSteps")<OrderSteps, {
  readonly record: (step: OrderStep) => Effect.Effect<void, JournalError>
  /** An order's steps in the order they were recorded. */
  readonly stepsOf: (clientOrderId: string) => Effect.Effect<ReadonlyArray<OrderStep>, JournalError>
  /** The fills journaled for an order, in append order (the parts a restart must not count twice). */
  readonly fillsOf: (clientOrderId: string) => Effect.Effect<ReadonlyArray<Fill>, JournalError>
}>() {}
