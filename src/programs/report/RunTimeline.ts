import { BigDecimal, Clock, Duration, Effect, Schedule } from "effect"
import { queueNames, type QueueName } from "../../domain/BusEvent.js"
import type { BusStats } from "../../services/EventBus.js"
import type { Snapshot } from "../Summary.js"

/** What a run looked like at one moment, for `run --report`. */
export interface TimelineSample {
  /** Epoch ms. */
  readonly t: number
  /** Realized + unrealized P&L, in the quote asset. */
  readonly equity: number
  readonly realized: number
  readonly sizes: Readonly<Record<QueueName, number>>
  /** Events handled so far, all queues. */
  readonly processed: number
  readonly dropped: number
}

/** `peaks`: the largest size of each queue seen since the last sample (else the size now). */
export const sampleOf = (s: Snapshot, t: number, peaks?: Readonly<Record<QueueName, number>>): TimelineSample => {
  const sizes = { data: 0, signal: 0, order: 0 }
  let processed = 0
  for (const q of queueNames) {
    sizes[q] = Math.max(s.bus[q].size, peaks?.[q] ?? 0)
    processed += s.bus[q].processed
  }
  const realized = BigDecimal.unsafeToNumber(s.pnl.realized)
  return {
    t,
    equity: realized + BigDecimal.unsafeToNumber(s.pnl.unrealized),
    realized,
    sizes,
    processed,
    dropped: s.bus.data.dropped
  }
}

/**
 * The samples of a run, bounded: when `maxSamples` are held, every other one is dropped and
 * only every other later sample is kept, so a run of weeks keeps an even, coarser timeline
 * in constant memory. The last sample added is always kept (the end of the run).
 */
export const makeTimeline = (maxSamples = 20_000) => {
  const samples: Array<TimelineSample> = []
  let stride = 1
  let seen = 0
  let pending: TimelineSample | undefined
  const add = (sample: TimelineSample) => {
    if (seen++ % stride !== 0) {
      pending = sample
      return
    }
    pending = undefined
    samples.push(sample)
    if (samples.length >= maxSamples) {
      let kept = 0
      for (let i = 0; i < samples.length; i += 2) samples[kept++] = samples[i]!
      samples.length = kept
      stride *= 2
    }
  }
  const all = (): ReadonlyArray<TimelineSample> => pending === undefined ? samples : [...samples, pending]
  return { add, all }
}

export type Timeline = ReturnType<typeof makeTimeline>

/**
 * Samples a run for its report: the queues' sizes every `pollMillis` (a queue fills and empties between two
 * samples), the rest every `pollsPerSample` polls, with the largest sizes seen since the last sample.
 */
export const sampler = (
  timeline: Timeline,
  stats: Effect.Effect<BusStats>,
  snapshot: Effect.Effect<Snapshot>,
  options: { readonly pollMillis: number; readonly pollsPerSample: number }
) => {
  const peaks = { data: 0, signal: 0, order: 0 }
  let polls = 0
  const poll = Effect.gen(function*() {
    const now = yield* stats
    for (const q of queueNames) peaks[q] = Math.max(peaks[q], now[q].size)
    if (++polls % options.pollsPerSample !== 0) return
    timeline.add(sampleOf(yield* snapshot, yield* Clock.currentTimeMillis, peaks))
    for (const q of queueNames) peaks[q] = 0
  })
  return Effect.repeat(poll, Schedule.spaced(Duration.millis(options.pollMillis)))
}
