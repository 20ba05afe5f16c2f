import { Context, type Effect } from "effect"
import type { BusEvent, QueueName } from "../domain/BusEvent.js"

/**
 * Optional hooks an in-memory bus calls when they are in its context at
 * build time: the seam for a write-ahead journal and for metrics. Without
 * them the bus's hot path is unchanged.
 */
export class EventBusHooks extends Context.Tag("trading-bus/EventBusHooks")<EventBusHooks, {
  /** Queues whose events go through the hooks; others skip them at no cost. */
  readonly queues: ReadonlyArray<QueueName>
  /**
   * The hooks keep what a shutdown leaves unhandled on these queues (a write-ahead journal), or on all of
   * `queues` with `true`: the bus's shutdown report then says those events will be recovered instead of
   * calling for a reconciliation.
   */
  readonly recoverable?: boolean | ReadonlyArray<QueueName>
  /**
   * Runs before an event enters its queue, in the publisher's fiber (a write-ahead append).
   * If it fails or dies, the publish dies with it and nothing is enqueued.
   */
  readonly beforeEnqueue: (event: BusEvent, queue: QueueName) => Effect.Effect<void>
  /**
   * Runs after all of an event's handlers ran, in the processor's fiber; `failed` when one of them failed, died
   * or timed out (a write-ahead journal keeps such an event to be recovered).
   */
  readonly afterHandled: (event: BusEvent, queue: QueueName, outcome: { readonly failed: boolean }) => Effect.Effect<void>
}>() {}
