import { BigDecimal } from "effect"
import { queueNames, type QueueName } from "../domain/BusEvent.js"
import type { Snapshot } from "./Summary.js"

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

export const sampleOf = (s: Snapshot, t: number): TimelineSample => {
  const sizes = { data: 0, signal: 0, order: 0 }
  let processed = 0
  for (const q of queueNames) {
    sizes[q] = s.bus[q].size
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
