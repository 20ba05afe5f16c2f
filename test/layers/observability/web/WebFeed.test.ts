import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Stream } from "effect"
import { makeEvent } from "../../../../src/domain/BusEvent.js"
import * as MemoryEventBus from "../../../../src/layers/bus/MemoryEventBus.js"
import { makeWebFeed } from "../../../../src/layers/observability/internal/web/WebFeed.js"
import { EventBus } from "../../../../src/services/EventBus.js"
import { MarketData } from "../../../../src/services/MarketData.js"

const marketData = Layer.succeed(MarketData, MarketData.of({
  name: "test",
  stats: Effect.succeed({ messages: 0, malformed: 0, reconnects: 0, backfilled: 0, candles: 0, connected: true })
}))

const candle = (i: number) => ({
  symbol: "BTCUSDT", interval: "1m", openTime: i * 60_000, closeTime: i * 60_000 + 59_999,
  open: 100 + i, high: 101 + i, low: 99 + i, close: 100.5 + i, volume: 1, quoteVolume: 100, trades: 1, isClosed: true
})

const publishCandles = (from: number, to: number) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    for (let i = from; i < to; i++) yield* bus.publish(yield* makeEvent("CandleClosed", candle(i), { source: "test" }))
  })

/** Waits until the bus has handled every event published so far. */
const settled = Effect.gen(function*() {
  const bus = yield* EventBus
  while ((yield* bus.stats).data.size > 0) yield* Effect.yieldNow()
  yield* Effect.yieldNow()
})

const env = Layer.merge(MemoryEventBus.layer({ dataCapacity: 10_000 }), marketData)

describe("WebFeed", () => {
  it.scoped("starts a client with the SSE preamble and a snapshot of what it holds, naming the Last-Event-ID it resumes from", () =>
    Effect.gen(function*() {
      const feed = yield* makeWebFeed({ clientBuffer: 16 })
      yield* publishCandles(0, 3)
      yield* settled
      const stream = yield* feed.connect("41")
      const [first] = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(stream, 1)))
      expect(first).toMatch(/^retry: 1000\nid: \d+\nevent: snapshot\ndata: /)
      const snapshot = JSON.parse(first!.split("data: ")[1]!)
      expect(snapshot.symbol).toBe("BTCUSDT")
      expect(snapshot.candles.map((c: { close: number }) => c.close)).toEqual([100.5, 101.5, 102.5])
      expect(snapshot.resumedFrom).toBe("41")
    }).pipe(Effect.provide(env)))

  it.scoped("streams each handled event to its clients with increasing ids", () =>
    Effect.gen(function*() {
      const feed = yield* makeWebFeed({ clientBuffer: 64 })
      const stream = yield* feed.connect(undefined)
      // the status is sampled at start and every second (the TestClock's): leave it out here
      const reading = yield* Effect.fork(Stream.runCollect(stream.pipe(Stream.filter((m) => !m.includes("event: status")), Stream.take(4))))
      yield* Effect.yieldNow()
      yield* publishCandles(0, 3)
      const messages = Chunk.toReadonlyArray(yield* Fiber.join(reading))
      const events = messages.slice(1).map((m) => m.match(/event: (\w+)/)![1])
      expect(events).toEqual(["candle", "candle", "candle"])
      const ids = messages.map((m) => Number(m.match(/id: (\d+)/)![1]))
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
      expect(new Set(ids).size).toBe(4)
    }).pipe(Effect.provide(env)))

  it.scoped("drops a client that falls behind instead of holding up the bus: its stream ends, the others go on", () =>
    Effect.gen(function*() {
      const feed = yield* makeWebFeed({ clientBuffer: 8 })
      const slow = yield* feed.connect(undefined) // never read until the end
      expect(feed.clients()).toBe(1)
      yield* publishCandles(0, 50)
      yield* settled
      expect(feed.clients()).toBe(0)
      // what it had buffered, then the end: no error, so the browser's EventSource simply reconnects
      const got = Chunk.toReadonlyArray(yield* Stream.runCollect(slow))
      expect(got.length).toBeLessThanOrEqual(8)
      const bus = yield* EventBus
      expect((yield* bus.stats).data.processed).toBe(50)
      expect((yield* bus.stats).data.failed).toBe(0)
    }).pipe(Effect.provide(env)))

  it.scoped("disconnectAll ends every client's stream", () =>
    Effect.gen(function*() {
      const feed = yield* makeWebFeed()
      const a = yield* feed.connect(undefined)
      yield* feed.connect(undefined)
      expect(yield* feed.disconnectAll).toBe(2)
      expect(feed.clients()).toBe(0)
      expect(Chunk.size(yield* Stream.runCollect(a))).toBeLessThanOrEqual(1) // the end, what was unsent dropped
    }).pipe(Effect.provide(env)))
})
