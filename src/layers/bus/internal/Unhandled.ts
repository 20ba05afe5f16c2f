import { BigDecimal, Duration, Effect } from "effect"
import type { BusEvent, QueueName } from "../../../domain/BusEvent.js"
import { formatDecimal } from "../../../domain/Decimal.js"
import { type Lane, unhandled } from "./Lane.js"

const orderFields = (event: BusEvent): Record<string, string> => {
  const p = event.payload as unknown as Record<string, unknown>
  const fields: Record<string, string> = { eventType: event.type, eventId: event.id }
  for (const key of ["clientOrderId", "symbol", "side", "quantity"]) {
    const value = p[key]
    if (value !== undefined) fields[key] = BigDecimal.isBigDecimal(value) ? formatDecimal(value) : String(value)
  }
  return fields
}

/**
 * The last word of a shutdown: what every queue left unhandled. Each event of
 * the `order` queue is logged on its own at error level, with the fields an
 * operator needs to reconcile it by hand.
 */
export const reportUnhandled = (
  lanes: { readonly [Q in QueueName]: Lane },
  queued: ReadonlyArray<readonly [QueueName, ReadonlyArray<BusEvent>]>,
  drained: boolean,
  drainTimeout: Duration.Duration,
  /** Queues whose events a journal keeps: they are published again at the next start. */
  recoverable: ReadonlyArray<QueueName> = []
) =>
  Effect.gen(function*() {
    const left = queued.map(([q, rest]) => [q, unhandled(lanes[q], rest)] as const)
    const total = left.reduce((n, [, events]) => n + events.length, 0)
    const counts = Object.fromEntries(left.map(([q, events]) => [q, events.length]))
    if (total === 0) {
      return yield* Effect.logDebug("event bus drained and stopped").pipe(
        Effect.annotateLogs({ processed: `${lanes.data.processed}/${lanes.signal.processed}/${lanes.order.processed}` })
      )
    }
    const kept = left.filter(([q]) => recoverable.includes(q)).reduce((n, [, events]) => n + events.length, 0)
    yield* Effect.logWarning(
      `event bus stopped with ${total} events unhandled${
        drained ? "" : ` (the drain timed out after ${Duration.format(drainTimeout)})`
      }${kept > 0 ? `; the ${kept} on the ${recoverable.join("/")} queue are journaled and will be recovered at the next start` : ""}`
    ).pipe(Effect.annotateLogs(counts))
    for (const [q, events] of left) {
      if (q !== "order") continue
      const journaled = recoverable.includes(q)
      for (const event of events) {
        // a journaled order needs no reconciliation by hand: the next start publishes it again
        const log = journaled
          ? Effect.logWarning(`unhandled ${event.type} left on the order queue at shutdown: journaled, it will be recovered at the next start`)
          : Effect.logError(`unhandled ${event.type} left on the order queue at shutdown`)
        yield* log.pipe(Effect.annotateLogs(orderFields(event)))
      }
    }
  })
