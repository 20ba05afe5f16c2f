import { describe, expect, it } from "vitest"
import { makeTimeline, type TimelineSample } from "../../src/programs/RunTimeline.js"

const sample = (t: number): TimelineSample => ({
  t,
  equity: t,
  realized: 0,
  sizes: { data: 0, signal: 0, order: 0 },
  processed: t,
  dropped: 0
})

describe("RunTimeline", () => {
  it("keeps every sample until it is full", () => {
    const timeline = makeTimeline(100)
    for (let t = 0; t < 99; t++) timeline.add(sample(t))
    expect(timeline.all().map((s) => s.t)).toEqual(Array.from({ length: 99 }, (_, t) => t))
  })

  it("a long run keeps an even, coarser timeline in bounded memory, and always its last sample", () => {
    const timeline = makeTimeline(100)
    for (let t = 0; t < 100_001; t++) timeline.add(sample(t))
    const ts = timeline.all().map((s) => s.t)
    expect(ts.length).toBeLessThanOrEqual(101)
    expect(ts.length).toBeGreaterThan(40)
    expect(ts[0]).toBe(0)
    expect(ts.at(-1)).toBe(100_000)
    // evenly spaced apart from the last one
    const gaps = new Set(ts.slice(1, -1).map((t, i) => t - ts[i]!))
    expect(gaps.size).toBe(1)
  })
})
