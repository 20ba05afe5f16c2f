import { NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, LogLevel, TestClock } from "effect"
import { WebSocket } from "ws"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as BinanceMarketData from "../../../src/layers/market/BinanceMarketData.js"
import { MarketData } from "../../../src/services/MarketData.js"
import {
  defaultStartTime,
  layer,
  SimulatedExchange,
  type SimulatedExchangeOptions
} from "../../../src/layers/market/SimulatedExchange.js"

const start = (options: SimulatedExchangeOptions) =>
  Layer.build(layer(options)).pipe(Effect.map(Context.get(SimulatedExchange)), Logger.withMinimumLogLevel(LogLevel.Error))

interface Client {
  readonly ws: WebSocket
  received: number
}

const connect = (url: string) =>
  Effect.acquireRelease(
    Effect.async<Client, Error>((resume) => {
      const ws = new WebSocket(url)
      const client: Client = { ws, received: 0 }
      ws.on("message", () => client.received++)
      ws.once("open", () => resume(Effect.succeed(client)))
      ws.once("error", (error) => resume(Effect.fail(error)))
    }),
    (client) => Effect.sync(() => client.ws.terminate())
  )

const symbols = Array.from({ length: 20 }, (_, i) => `sym${i}usdt`)
const streams = symbols.map((s) => `${s}@kline_1m`).join("/")
const highWaterMark = 64 * 1024

describe("SimulatedExchange under backpressure", () => {
  it.scopedLive("keeps its send buffers bounded at any speed: waits for slow readers, drops a stalled one's frames", () =>
    Effect.gen(function*() {
      const exchange = yield* start({ symbols, speed: 10_000, highWaterMark })
      const stuck = yield* connect(`${exchange.wsUrl}/stream?streams=${streams}`)
      stuck.ws.pause() // reads nothing: TCP fills, then the server's send buffer
      let maxBuffered = 0
      const watch = Effect.gen(function*() {
        // until the stuck client is stalled (a second after its buffer filled up), at most 8 s
        for (let i = 0; i < 800 && (yield* exchange.framesDropped) === 0; i++) {
          maxBuffered = Math.max(maxBuffered, yield* exchange.bufferedBytes)
          yield* Effect.sleep("10 millis")
        }
      })
      yield* watch
      // one step of the walk (20 frames) may go out above the mark, no more
      expect(maxBuffered).toBeGreaterThan(0)
      expect(maxBuffered).toBeLessThan(highWaterMark + 64 * 1024)
      // stalled after a second without reading: its frames are dropped, counted, and the market goes on
      expect(yield* exchange.framesDropped).toBeGreaterThan(0)
      const reader = yield* connect(`${exchange.wsUrl}/stream?streams=${streams}`)
      const before = yield* exchange.candlesServed
      yield* Effect.sleep("300 millis")
      expect((yield* exchange.candlesServed) - before).toBeGreaterThan(100)
      expect(reader.received).toBeGreaterThan(100)
      expect(yield* exchange.bufferedBytes).toBeLessThan(2 * highWaterMark + 128 * 1024)
    }))

  it.scopedLive("with the collector in the same process at top speed: nothing dropped, no gap, the event loop answers", () =>
    Effect.gen(function*() {
      const exchange = yield* start({ symbols, speed: 10_000 })
      const collector = BinanceMarketData.layer({
        symbols,
        interval: "1m",
        wsUrl: exchange.wsUrl,
        restUrl: exchange.restUrl,
        name: "simulator",
        marketTime: exchange.marketTime
      }).pipe(Layer.provide(Layer.mergeAll(
        MemoryEventBus.layer(),
        NodeSocket.layerWebSocketConstructor,
        NodeHttpClient.layerUndici
      )))
      const marketData = Context.get(
        yield* Layer.build(collector).pipe(Logger.withMinimumLogLevel(LogLevel.Error)),
        MarketData
      )
      // before: the walk caught up in a tight loop, the event loop stalled for seconds and memory grew without bound
      let last = Date.now()
      let maxLag = 0
      const timer = setInterval(() => {
        const now = Date.now()
        maxLag = Math.max(maxLag, now - last - 20)
        last = now
      }, 20)
      yield* Effect.sleep("3 seconds").pipe(Effect.ensuring(Effect.sync(() => clearInterval(timer))))
      const stats = yield* marketData.stats
      expect(stats.candles).toBeGreaterThan(1000)
      expect(stats.gaps).toBe(0)
      expect(yield* exchange.framesDropped).toBe(0)
      expect(maxLag).toBeLessThan(500)
    }))

  it.scoped("tells the market's time: one interval per candle, never ahead of the frames sent", () =>
    Effect.gen(function*() {
      const exchange = yield* start({ speed: 10, updatesPerCandle: 1 })
      expect(yield* exchange.marketTime).toBe(defaultStartTime)
      const client = yield* connect(`${exchange.wsUrl}/stream?streams=btcusdt@kline_1m`)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      for (let i = 0; i < 20; i++) {
        yield* TestClock.adjust("50 millis")
        yield* Effect.yieldNow()
      }
      // 20 phases of 50 ms: 10 candles of 1m, the market 10 minutes on
      expect(yield* exchange.candlesServed).toBe(20)
      expect(yield* exchange.marketTime).toBe(defaultStartTime + 10 * 60_000)
      expect(client.ws.readyState).toBe(WebSocket.OPEN)
    }))
})
