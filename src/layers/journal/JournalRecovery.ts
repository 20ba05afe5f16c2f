import { Effect, Layer, Option } from "effect"
import type { BusClosedError, QueueFullError } from "../../domain/Errors.js"
import { EventBus } from "../../services/EventBus.js"
import { Journal, type JournalError } from "../../services/Journal.js"

/**
 * Publishes again, in their original order, the journaled events a previous
 * run left not done (a crash, a drain that timed out). An `OrderCreated`
 * whose fill or rejection is journaled already is not replayed (its outcome
 * is, if it is not done either): it is marked done, so the broker never sees
 * it twice. Events recorded from the other queues (`--record`) are appended
 * done, so they are never published again: a stale candle is not traded after
 * a crash. Build it after the bus and every subscriber, before the source.
 */
export const layer: Layer.Layer<never, JournalError | QueueFullError | BusClosedError, EventBus | Journal> = Layer
  .effectDiscard(Effect.gen(function*() {
    const journal = yield* Journal
    const bus = yield* EventBus
    const pending = yield* journal.pending
    if (pending.length === 0) return
    let replayed = 0
    let settled = 0
    for (const { event, queue } of pending) {
      if (event.type === "OrderCreated") {
        const outcome = yield* journal.outcomeOf(event.payload.clientOrderId)
        if (Option.isSome(outcome)) {
          yield* journal.markDone(event.id)
          settled++
          continue
        }
      }
      yield* bus.publish(event, queue)
      replayed++
    }
    yield* Effect.logInfo(
      `journal ${journal.location}: republished ${replayed} events the last run left unhandled${
        settled > 0 ? `; ${settled} orders with a journaled outcome were not executed again` : ""
      }`
    ).pipe(Effect.annotateLogs({ replayed, settled }))
  }))
