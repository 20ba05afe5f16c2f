import { Effect, Layer } from "effect"
import { type BusEvent, queueNames } from "../../domain/BusEvent.js"
import { EventBusHooks } from "../../services/EventBusHooks.js"
import { Journal } from "../../services/Journal.js"

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
 * handlers ran. An order event one of whose handlers failed (a handler wrapped
 * in `RetryingHandlers` fails only when even its dead letter could not be
 * stored, as on a full disk) stays pending: the next start publishes it
 * again, and the broker's idempotency check keeps it from executing twice.
 * With `record`, the other queues' events are appended too, as
 * done. Provide it to `MemoryEventBus.layer` (build it before the bus).
 */
const keptPending = (event: BusEvent) =>
  Effect.logWarning(
    `${event.type} ${event.id}: a handler failed on it and it is not in the dead letters: it stays pending in the journal and will be published again at the next start`
  ).pipe(Effect.annotateLogs({ eventType: event.type, eventId: event.id, queue: "order" }))

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
        afterHandled: (event, queue, { failed }) =>
          queue !== "order"
            ? Effect.void
            : failed
            ? keptPending(event)
            : Effect.orDie(journal.markDone(event.id))
      })
    })
  )

/** The write-ahead journal of the `order` queue alone: `layerWith()`. */
export const layer: Layer.Layer<EventBusHooks, never, Journal> = layerWith()
