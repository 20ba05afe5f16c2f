import { Effect, Layer } from "effect"
import { queueNames } from "../domain/BusEvent.js"
import { EventBusHooks } from "../services/EventBusHooks.js"
import { Journal } from "../services/Journal.js"

export interface JournalHooksOptions {
  /**
   * Also record every event of the `data` and `signal` queues (an event log: `trading-bus run --record`),
   * appended done, so that recovery never publishes them again (a stale candle must not be traded after a
   * crash). Like an order, an event whose record cannot be written is not published (the publish dies):
   * the log never silently misses an event the engine saw. Default false.
   */
  readonly record?: boolean
}

/**
 * The bus's hooks for a write-ahead journal of the `order` queue: each event
 * is appended, committed, before it enters the queue (a journal failure
 * fails the publish, and nothing is enqueued), and marked done once its
 * handlers ran. With `record`, the other queues' events are appended too, as
 * done. Provide it to `MemoryEventBus.layer` (build it before the bus).
 */
export const layerWith = (options: JournalHooksOptions = {}): Layer.Layer<EventBusHooks, never, Journal> =>
  Layer.effect(
    EventBusHooks,
    Effect.map(Journal, (journal) => {
      const done = { done: true } as const
      return EventBusHooks.of({
        queues: options.record === true ? queueNames : ["order"],
        // what a shutdown leaves on the order queue is recovered; the other queues' recorded events are not
        recoverable: ["order"],
        beforeEnqueue: (event, queue) =>
          Effect.orDie(queue === "order" ? journal.append(event, queue) : journal.append(event, queue, done)),
        afterHandled: (event, queue) => queue === "order" ? Effect.orDie(journal.markDone(event.id)) : Effect.void
      })
    })
  )

/** The write-ahead journal of the `order` queue alone: `layerWith()`. */
export const layer: Layer.Layer<EventBusHooks, never, Journal> = layerWith()
