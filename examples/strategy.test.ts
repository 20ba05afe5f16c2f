/**
 * How to test a strategy of your own with @effect/vitest (`npx vitest run examples/strategy.test.ts`):
 * its decisions on hand-made candles, then its orders through the real engine, with the TestClock
 * standing in for time so that nothing waits for real.
 */
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Context, Deferred, Effect, Layer, TestClock } from "effect"
import {
  type Candle,
  EventBus,
  type EventPayload,
  formatDecimal,
  makeEventAt,
  MemoryEventBus,
  MemoryPortfolio,
  PaperBroker,
  Portfolio,
  RiskOrderManager,
  Strategy,
  StrategyError,
  TradingEngine
} from "trading-bus"
import * as RsiReversion from "./my-strategy.js"

/** A closed 1m candle whose prices are all `close`. */
const candle = (minute: number, close: number): Candle => ({
  symbol: "BTCUSDT",
  interval: "1m",
  openTime: minute * 60_000,
  closeTime: minute * 60_000 + 59_999,
  open: close,
  high: close,
  low: close,
  close,
  volume: 1,
  quoteVolume: close,
  trades: 1,
  isClosed: true
})

// four falls (the RSI(3) is 0), then four rises (it is 100)
const closes = [10, 9, 8, 7, 8, 9, 10, 11]
const long = { position: BigDecimal.unsafeFromString("1"), details: undefined }

describe("my RSI strategy", () => {
  it.effect("signals LONG when oversold and flat, CLOSE when overbought and long, nothing otherwise", () =>
    Effect.gen(function*() {
      const strategy = RsiReversion.make({ period: 3 })
      // `analyze` gets each candle with the strategy's position: here, flat until the LONG, long after it
      const directions: Array<string | undefined> = []
      for (const [i, close] of closes.entries()) {
        const signal = yield* strategy.analyze(candle(i, close), i <= 3 ? Strategy.flat : long)
        directions.push(signal._tag === "Some" ? signal.value.direction : undefined)
      }
      expect(directions).toEqual([undefined, undefined, undefined, "LONG", undefined, undefined, "CLOSE", "CLOSE"])
    }))

  it.effect("fails with a StrategyError on a candle without a close", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(RsiReversion.make().analyze(candle(0, Number.NaN), Strategy.flat))
      expect(error).toBeInstanceOf(StrategyError)
      expect(error.strategy).toBe("rsi-reversion")
    }))

  it.scoped("trades through the engine: one order per signal, filled after the broker's latency on the TestClock", () =>
    Effect.gen(function*() {
      // the engine with the strategy, the real order manager, a paper broker that takes 2 s and the portfolio
      const engine = TradingEngine.layer.pipe(
        Layer.provideMerge(Layer.mergeAll(RsiReversion.layer({ period: 3 }), RiskOrderManager.layer({ quoteAmount: "100" }))),
        Layer.provideMerge(Layer.mergeAll(MemoryEventBus.layer(), PaperBroker.layer({ latency: "2 seconds" }), MemoryPortfolio.layer))
      )
      const context = yield* Layer.build(engine)
      const bus = Context.get(context, EventBus)
      const portfolio = Context.get(context, Portfolio)
      // handlers of a type run in subscription order, so these run after the engine's: once the order is done
      const orders: Array<EventPayload<"OrderCreated">> = []
      const filled = yield* Deferred.make<EventPayload<"PositionUpdated">>()
      yield* bus.subscribe("OrderCreated", (event) => Effect.sync(() => orders.push(event.payload)))
      yield* bus.subscribe("PositionUpdated", (event) => Deferred.succeed(filled, event.payload))

      yield* bus.publishAll(closes.slice(0, 4).map((c, i) => makeEventAt("CandleClosed", candle(i, c), i, { source: "test" })))
      // the clock moves only when the test says so: a second on, the broker is still executing the order
      yield* TestClock.adjust("1 second")
      expect(yield* portfolio.position("BTCUSDT")).toBeUndefined()
      // two seconds after it was sent, it is filled: wait for that event rather than for time
      yield* TestClock.adjust("1 second")
      const position = yield* Deferred.await(filled)
      expect(orders.map((o) => [o.side, formatDecimal(o.quantity)])).toEqual([["BUY", "14.285714"]]) // 100 / 7
      expect(formatDecimal(position.quantity)).toBe("14.285714")
    }))
})
