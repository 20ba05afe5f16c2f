import { Clock, Effect, Layer, Option } from "effect"
import type { BusClosedError, QueueFullError } from "../../domain/Errors.js"
import { DeadLetters } from "../../services/DeadLetters.js"
import { EventBus } from "../../services/EventBus.js"
import { Journal, type JournalError, type UndecodableEntry } from "../../services/Journal.js"

/**
 * Pending rows that cannot be decoded go to the dead letters with their raw text and are marked done, so that
 * one damaged row never stops a start (said once, in one warning). The letter is stored before the row is
 * marked done: a crash in between leaves a duplicate letter, never a lost row. Without a dead-letter store
 * the rows are logged with their raw text and left pending.
 */
const quarantine = (journal: Journal["Type"], damaged: ReadonlyArray<UndecodableEntry>) =>
  Effect.gen(function*() {
    const deadLetters = yield* Effect.serviceOption(DeadLetters)
    const what = damaged.map((d) => `${d.type} ${d.id} (seq ${d.seq}: ${d.reason})`).join("; ")
    if (Option.isNone(deadLetters)) {
      return yield* Effect.logError(
        `journal ${journal.location}: ${damaged.length} pending events cannot be decoded and are not published: ${what}; no dead-letter store: they stay pending`
      ).pipe(Effect.annotateLogs({ raw: JSON.stringify(damaged.map((d) => d.payload)) }))
    }
    const ids: Array<number> = []
    for (const d of damaged) {
      ids.push(yield* deadLetters.value.addUndecodable({
        handler: "journal-recovery",
        queue: d.queue,
        cause: `the journaled event cannot be decoded: ${d.reason}`,
        eventId: d.id,
        eventType: d.type,
        raw: d.payload,
        failedAt: yield* Clock.currentTimeMillis
      }))
      yield* journal.markDone(d.id)
    }
    yield* Effect.logWarning(
      `journal ${journal.location}: ${damaged.length} pending events cannot be decoded: ${what}; moved to the dead letters (${
        ids.map((id) => `#${id}`).join(", ")
      }) with their raw text (trading-bus dlq list); the run goes on without them`
    ).pipe(Effect.annotateLogs({ quarantined: damaged.length }))
  })

/**
 * Publishes again, in their original order, the journaled events a previous
 * run left not done (a crash, a drain that timed out). An `OrderCreated`
 * whose fill or rejection is journaled already is not replayed (its outcome
 * is, if it is not done either): it is marked done, so the broker never sees
 * it twice. Events recorded from the other queues (`--record`) are appended
 * done, so they are never published again: a stale candle is not traded after
 * a crash. A pending row that cannot be decoded is quarantined in the dead
 * letters first. Build it after the bus and every subscriber (the Portfolio
 * restored by `JournaledPortfolio`), before the source.
 */
export const layer: Layer.Layer<never, JournalError | QueueFullError | BusClosedError, EventBus | Journal> = Layer
  .effectDiscard(Effect.gen(function*() {
    const journal = yield* Journal
    const bus = yield* EventBus
    const damaged = (yield* journal.undecodable).filter((d) => !d.done)
    if (damaged.length > 0) yield* quarantine(journal, damaged)
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
