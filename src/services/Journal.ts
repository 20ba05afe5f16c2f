import { Context, Data, type Effect, type Option } from "effect"
import type { BusEvent, QueueName } from "../domain/BusEvent.js"

/** A journal read or write failed (I/O, a locked or damaged file). */
export class JournalError extends Data.TaggedError("JournalError")<{
  /** What the journal was doing, such as "append OrderCreated a1-2f". */
  readonly operation: string
  readonly cause: unknown
}> {
  override get message() {
    return `the journal failed to ${this.operation}: ${
      this.cause instanceof Error ? this.cause.message : String(this.cause)
    }`
  }
}

/** One journaled event. */
export interface JournalEntry {
  /** The append order, increasing. */
  readonly seq: number
  readonly event: BusEvent
  readonly queue: QueueName
  /** Its handlers ran (successfully or not). */
  readonly done: boolean
}

/** The event that settled an order: its fill or its rejection. */
export type OrderOutcome = BusEvent<"OrderFilled" | "OrderRejected">

/**
 * A durable, ordered record of the events bound for the bus's `order` queue:
 * appended before they enter the queue (write-ahead), marked done once their
 * handlers ran, so that what a crash interrupted can be published again.
 */
export class Journal extends Context.Tag("trading-bus/Journal")<Journal, {
  /** Where it lives (a file path or ":memory:"), for messages. */
  readonly location: string
  /**
   * Appends an event as not done, committed when this succeeds. Idempotent on
   * the event id; an `OrderFilled` or `OrderRejected` whose payload is already
   * journaled for its order (a recorded outcome returned again) is not
   * appended twice.
   */
  readonly append: (event: BusEvent, queue: QueueName) => Effect.Effect<void, JournalError>
  /** Marks an event done; unknown ids are ignored. */
  readonly markDone: (eventId: string) => Effect.Effect<void, JournalError>
  /** The events not done, in append order. */
  readonly pending: Effect.Effect<ReadonlyArray<JournalEntry>, JournalError>
  /** The first journaled fill or rejection of an order, if any. */
  readonly outcomeOf: (clientOrderId: string) => Effect.Effect<Option.Option<OrderOutcome>, JournalError>
  /** Every journaled event about an order (`Order*`), in append order. */
  readonly orderEvents: Effect.Effect<ReadonlyArray<JournalEntry>, JournalError>
}>() {}
