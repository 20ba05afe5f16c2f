import type { CountedHistogramSeries } from "../../../domain/Metrics.js"
import { handlerDurationBoundaries } from "../../../domain/Metrics.js"

const bounds = handlerDurationBoundaries
const firstBound = bounds[0]!

/** A duration's bucket: the first bound it does not exceed, `bounds.length` above them all. */
export const bucketOf = (seconds: number): number => {
  let i = 0
  while (i < bounds.length && seconds > bounds[i]!) i++
  return i
}

/**
 * One handler's durations on one queue, counted in plain numbers (no
 * allocation) until `flush` adds them to its histogram series.
 */
export class DurationTally {
  private readonly counts = new Float64Array(bounds.length + 1)
  private sum = 0
  private pending = false

  constructor(private readonly series: Pick<CountedHistogramSeries, "add">) {}

  /** `n` calls in `bucket`, `seconds` in all. */
  add(bucket: number, n: number, seconds: number): void {
    this.counts[bucket]! += n
    this.sum += seconds
    this.pending = true
  }

  flush(): void {
    if (!this.pending) return
    this.series.add(this.counts, this.sum)
    this.counts.fill(0)
    this.sum = 0
    this.pending = false
  }
}

/** Runs are sized so that one is expected to take at most half the first bucket: longer means an outlier. */
const runBudget = firstBound / 2
const maxRun = 64

/**
 * Times a queue's handler calls, reading the clock once per run of calls
 * instead of once per call: a clock read costs more than a no-op handler
 * (55-80 ns here), so timing every call alone would cost a busy bus a
 * quarter of its speed.
 *
 * A run is consecutive calls of one handler, back to back (each starting
 * where the one before ended, as when timed alone), and as many as the
 * handler's recent pace fits in 5 µs, doubling from one up to 64. A run
 * that took at most the first bucket's bound (10 µs) is exact: every call in
 * it took at most that, so each is counted in the first bucket, and the sum
 * is the run's time. A run that took longer holds an outlier: its other
 * calls are counted at the recent pace and the rest of the time goes to one
 * call (off by less than 5 µs if the others kept their pace; the sum stays
 * exact), and the next calls are timed alone again. A handler slower than
 * 5 µs a call is always timed alone, and so is every call that returns an
 * Effect to run (rather than the result of work done when called).
 */
export class RunTimer<H> {
  /** The handler of the open run, and how many of its calls it holds. */
  private handler: H | undefined = undefined
  private calls = 0
  private tally: DurationTally | undefined = undefined
  /** When the open run started (or the next one starts): `performance.now()` milliseconds. */
  private start = 0
  private limit = 1
  /** Seconds per call in the last run that was not an outlier. */
  private pace = 0

  constructor(private readonly tallyOf: (handler: H) => DurationTally) {}

  /** The open run holds calls. */
  get open(): boolean {
    return this.calls > 0
  }

  /** True when `handler`'s next call cannot join the open run: close it first. */
  breaks(handler: H): boolean {
    return this.calls > 0 && this.handler !== handler
  }

  /** A call of `handler` ended; true when the run is full: close it now. */
  ended(handler: H): boolean {
    if (this.calls === 0) {
      this.handler = handler
      this.tally = this.tallyOf(handler)
    }
    return ++this.calls >= this.limit
  }

  /** Ends the open run, if any, at `now`, and times from `now` on. */
  close(now: number): void {
    const calls = this.calls
    if (calls > 0) {
      const seconds = (now - this.start) / 1000
      const tally = this.tally!
      if (calls === 1) {
        tally.add(bucketOf(seconds), 1, seconds)
        this.paced(seconds)
      } else if (seconds <= firstBound) {
        tally.add(0, calls, seconds)
        this.paced(seconds / calls)
      } else {
        const others = Math.min(this.pace, seconds / calls) * (calls - 1)
        tally.add(bucketOf(others / (calls - 1)), calls - 1, others)
        tally.add(bucketOf(seconds - others), 1, seconds - others)
        this.limit = 1
      }
      this.calls = 0
    }
    this.start = now
  }

  private paced(perCall: number): void {
    this.pace = perCall
    this.limit = Math.max(1, Math.min(this.limit * 2, maxRun, Math.floor(runBudget / perCall)))
  }
}
