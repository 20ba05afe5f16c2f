import { Effect, Layer } from "effect"
import { EventBusHooks } from "../services/EventBusHooks.js"
import { Journal } from "../services/Journal.js"

/**
 * The bus's hooks for a write-ahead journal of the `order` queue: each event
 * is appended, committed, before it enters the queue (a journal failure
 * fails the publish, and nothing is enqueued), and marked done once its
 * handlers ran. Provide it to `MemoryEventBus.layer` (build it before the bus).
 */
export const layer: Layer.Layer<EventBusHooks, never, Journal> = Layer.effect(
  EventBusHooks,
  Effect.map(Journal, (journal) =>
    EventBusHooks.of({
      queues: ["order"],
      recoverable: true,
      beforeEnqueue: (event, queue) => Effect.orDie(journal.append(event, queue)),
      afterHandled: (event) => Effect.orDie(journal.markDone(event.id))
    }))
)
