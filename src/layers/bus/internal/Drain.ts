import { Deferred, Effect } from "effect"

/**
 * Counts the events the bus has accepted and not finished (queued, in
 * flight, or with a publisher blocked on a full queue), across all queues, so
 * that shutdown can wait for zero on a signal instead of polling.
 */
export interface Drain {
  pending: number
  closing: boolean
  readonly drained: Deferred.Deferred<void>
}

export const makeDrain: Effect.Effect<Drain> = Effect.map(Deferred.make<void>(), (drained) => ({
  pending: 0,
  closing: false,
  drained
}))

/** One accepted event is finished (handled, timed out before it was queued, or pushed out). */
export const settle = (drain: Drain): void => {
  if (--drain.pending === 0 && drain.closing) Deferred.unsafeDone(drain.drained, Effect.void)
}

/** Starts closing; the `drained` signal fires now if nothing is pending, or when the last event settles. */
export const beginClosing = (drain: Drain): void => {
  drain.closing = true
  if (drain.pending === 0) Deferred.unsafeDone(drain.drained, Effect.void)
}
