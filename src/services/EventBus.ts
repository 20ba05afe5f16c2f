import { Context, type Effect } from "effect"
import type { BusEvent, EventType, QueueName } from "../domain/BusEvent.js"
import type { BusClosedError, QueueFullError } from "../domain/Errors.js"

/** What a handler does with one event. Its failures and defects are caught, logged and counted by the bus. */
export type EventHandler<T extends EventType> = (event: BusEvent<T>) => Effect.Effect<void, unknown>

/** One queue's counters. */
export interface QueueStats {
  /** Events in the queue (not counting the few the processor has taken in hand, nor blocked publishers). */
  readonly size: number
  readonly capacity: number
  /** Events pushed out of the sliding `data` queue by newer ones. Always 0 on the bounded queues. */
  readonly dropped: number
  /** Events whose handlers all ran, successfully or not. */
  readonly processed: number
  /** Handler failures, defects and timeouts. */
  readonly failed: number
}

export type BusStats = { readonly [Q in QueueName]: QueueStats }

export interface SubscribeOptions {
  /** The handler's name in logs and metrics; defaults to `<type>#<n>`. */
  readonly name?: string
}

/**
 * The event bus: three queues with their own overflow policies (`data`
 * slides, `signal` waits a bounded time, `order` waits as long as it takes)
 * and one processor per queue that runs each event's handlers in
 * subscription order.
 */
export class EventBus extends Context.Tag("trading-bus/EventBus")<EventBus, {
  /**
   * Puts an event on a queue, by default its type's queue. Fails with
   * `QueueFullError` when the `signal` queue stays full past its timeout,
   * and with `BusClosedError` once the bus is shutting down.
   */
  readonly publish: (event: BusEvent, queue?: QueueName) => Effect.Effect<void, QueueFullError | BusClosedError>
  /**
   * Optional: `publish` done at once where it can be. When the queue takes the event without waiting it is in
   * the queue on return (undefined); otherwise the result is the Effect that finishes the publish, to be run.
   * It lets a handler that publishes return a completed Effect, which the processor settles without a fiber
   * step. A wrapper that changes `publish` must change this too, or leave it out.
   */
  readonly publishNow?: (event: BusEvent, queue?: QueueName) => Effect.Effect<void, QueueFullError | BusClosedError> | undefined
  /** `publish` for a batch, in order, with the same semantics per event; stops at the first failure. */
  readonly publishAll: (
    events: Iterable<BusEvent>,
    queue?: QueueName
  ) => Effect.Effect<void, QueueFullError | BusClosedError>
  /** Adds a handler for one event type; handlers of a type run one after another in subscription order. */
  readonly subscribe: <T extends EventType>(
    type: T,
    handler: EventHandler<T>,
    options?: SubscribeOptions
  ) => Effect.Effect<void>
  /** A snapshot of every queue's counters. */
  readonly stats: Effect.Effect<BusStats>
}>() {}
