import { describe, expect, it } from "@effect/vitest"
import { handlerDurationBoundaries as bounds } from "../../../../src/domain/Metrics.js"
import { bucketOf, DurationTally, RunTimer } from "../../../../src/layers/bus/internal/HandlerTiming.js"

/** A tally whose flushes are kept: per-bucket counts and sum, added up. */
const recorded = () => {
  const counts = new Array<number>(bounds.length + 1).fill(0)
  let sum = 0
  const tally = new DurationTally({
    add: (added, s) => {
      for (let i = 0; i < counts.length; i++) counts[i]! += added[i]!
      sum += s
    }
  })
  return {
    tally,
    read: () => {
      tally.flush()
      return { counts: [...counts], sum, calls: counts.reduce((a, b) => a + b, 0) }
    }
  }
}

/** A timer over named handlers, each with its own recorded tally; `clock` is in microseconds. */
const timing = () => {
  const handlers = new Map<string, ReturnType<typeof recorded>>()
  const of = (name: string) => {
    let h = handlers.get(name)
    if (h === undefined) {
      h = recorded()
      handlers.set(name, h)
    }
    return h
  }
  const timer = new RunTimer<string>((name) => of(name).tally)
  let now = 0
  let clockReads = 0
  const close = () => {
    clockReads++
    timer.close(now / 1000)
  }
  timer.close(0)
  /** One call of `name` taking `micros`, told to the timer as the processor does. */
  const call = (name: string, micros: number) => {
    if (timer.breaks(name)) close()
    now += micros
    if (timer.ended(name)) close()
  }
  return { call, end: close, read: (name: string) => of(name).read(), clockReads: () => clockReads }
}

describe("HandlerTiming", () => {
  it("a duration's bucket is the first bound it does not exceed", () => {
    expect(bucketOf(0)).toBe(0)
    expect(bucketOf(0.00001)).toBe(0)
    expect(bucketOf(0.000011)).toBe(1)
    expect(bucketOf(0.003)).toBe(bounds.indexOf(0.005))
    expect(bucketOf(30)).toBe(bounds.length - 1)
    expect(bucketOf(31)).toBe(bounds.length)
  })

  it("fast calls are timed in runs, and still each counted exactly in the first bucket, with the exact sum", () => {
    const t = timing()
    for (let i = 0; i < 1000; i++) t.call("fast", 0.25)
    t.end()
    const r = t.read("fast")
    expect(r.calls).toBe(1000)
    expect(r.counts[0]).toBe(1000)
    expect(r.sum).toBeCloseTo(0.00025, 12)
    // 5 µs runs of 0.25 µs calls: 20 calls a run, once grown (1, 2, 4, 8, 16, 20, ...)
    expect(t.clockReads()).toBeLessThan(60)
  })

  it("a slow call among fast ones lands in its own bucket, off by less than 5 µs", () => {
    const t = timing()
    for (let i = 0; i < 500; i++) t.call("h", 0.25)
    t.call("h", 3000) // 3 ms
    for (let i = 0; i < 500; i++) t.call("h", 0.25)
    t.end()
    const r = t.read("h")
    expect(r.calls).toBe(1001)
    expect(r.counts[0]).toBe(1000)
    expect(r.counts[bucketOf(0.003)]).toBe(1)
    expect(r.sum).toBeCloseTo(0.00325, 12)
  })

  it("a handler slower than 5 µs a call is timed call by call", () => {
    const t = timing()
    const durations = [6, 9, 11, 19, 21, 49, 51, 99, 101, 6, 6, 6] // µs, around the first bounds
    for (const d of durations) t.call("slow", d)
    t.end()
    const r = t.read("slow")
    const expected = new Array<number>(bounds.length + 1).fill(0)
    for (const d of durations) expected[bucketOf(d / 1e6)]! += 1
    expect(r.counts).toEqual(expected)
    expect(r.sum).toBeCloseTo(durations.reduce((a, b) => a + b, 0) / 1e6, 12)
  })

  it("a run holds one handler's calls: each handler gets its own", () => {
    const t = timing()
    for (let i = 0; i < 300; i++) {
      t.call("a", 0.1)
      t.call("b", 0.3)
    }
    t.end()
    expect(t.read("a")).toMatchObject({ calls: 300, sum: expect.closeTo(0.00003, 12) })
    expect(t.read("b")).toMatchObject({ calls: 300, sum: expect.closeTo(0.00009, 12) })
  })

  it("flushing twice adds nothing the second time", () => {
    const adds: Array<number> = []
    const tally = new DurationTally({ add: (_, sum) => adds.push(sum) })
    tally.add(0, 2, 0.000004)
    tally.flush()
    tally.flush()
    expect(adds).toEqual([0.000004])
  })
})
