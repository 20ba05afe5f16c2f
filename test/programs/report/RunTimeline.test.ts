import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Fiber, TestClock } from "effect"
import { makeTimeline, sampler, type TimelineSample } from "../../../src/programs/report/RunTimeline.js"
import type { Snapshot } from "../../../src/programs/Summary.js"
import type { BusStats } from "../../../src/services/EventBus.js"

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

  it.effect("the report's queue depths are the highest sizes polled between two samples, not the size at the sample", () =>
    Effect.gen(function*() {
      const lane = (size: number) => ({ size, capacity: 100, dropped: 0, processed: 0, failed: 0 })
      const stats = (data: number, order: number): BusStats => ({ data: lane(data), signal: lane(0), order: lane(order) })
      const polled = [stats(3, 0), stats(40, 1), stats(7, 9), stats(0, 2), stats(0, 0), stats(5, 0)]
      let next = 0
      const zero = BigDecimal.fromBigInt(0n)
      const snapshot = {
        bus: stats(0, 0),
        engine: { candles: {}, signals: 0, orders: 0, fills: 0, rejected: 0, errors: 0 },
        collector: { connected: true, messages: 0, malformed: 0, reconnects: 0, backfilled: 0 },
        positions: [],
        pnl: { realized: BigDecimal.unsafeFromString("1.5"), unrealized: zero }
      } as unknown as Snapshot // only the bus and the P&L are sampled
      const timeline = makeTimeline()
      const fiber = yield* Effect.fork(
        sampler(timeline, Effect.sync(() => polled[next++ % polled.length]!), Effect.succeed(snapshot), { pollMillis: 50, pollsPerSample: 5 })
      )
      yield* TestClock.adjust("250 millis")
      yield* Fiber.interrupt(fiber)
      const [first, ...rest] = timeline.all()
      expect(rest).toEqual([])
      expect(first).toMatchObject({ sizes: { data: 40, signal: 0, order: 9 }, equity: 1.5, realized: 1.5 })
    }))
})
