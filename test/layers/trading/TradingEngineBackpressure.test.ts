import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Context, Effect, Exit, Fiber, Layer, Scope, TestClock } from "effect"
import { makeEventAt } from "../../../src/domain/BusEvent.js"
import type { Fill } from "../../../src/domain/Order.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as PaperBroker from "../../../src/layers/execution/PaperBroker.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import * as RiskOrderManager from "../../../src/layers/trading/RiskOrderManager.js"
import * as SmaCrossoverStrategy from "../../../src/layers/trading/SmaCrossoverStrategy.js"
import * as TradingEngine from "../../../src/layers/trading/TradingEngine.js"
import { EngineStats } from "../../../src/services/EngineStats.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { Portfolio } from "../../../src/services/Portfolio.js"
import { candleAt, order, settle } from "../../support/fixtures.js"

const orderCapacity = 4
const orderCount = 10
const chunk = 25
const chunks = 40

const seed: Fill = {
  clientOrderId: "seed",
  tradeId: "seed",
  symbol: "BTCUSDT",
  side: "BUY",
  type: "MARKET",
  quantity: BigDecimal.unsafeFromString("1"),
  price: BigDecimal.unsafeFromString("100"),
  fee: BigDecimal.fromBigInt(0n),
  status: "FILLED",
  orderCreatedAt: 0,
  filledAt: 0
}

/** Publishes `chunks` x `chunk` candles of `closeAt(i)`, letting the processors run after each chunk (the clock stands still). */
const feed = (bus: EventBus["Type"], closeAt: (i: number) => number) =>
  Effect.gen(function*() {
    for (let c = 0; c < chunks; c++) {
      yield* bus.publishAll(
        Array.from({ length: chunk }, (_, i) => {
          const candle = candleAt(c * chunk + i, closeAt(c * chunk + i))
          return makeEventAt("CandleClosed", candle, candle.closeTime, { source: "test" })
        })
      )
      yield* settle
    }
  })

describe("TradingEngine under a slow broker", () => {
  // issue 11 §1: the mark-to-market handler (data queue) published PositionUpdated onto the full order queue and
  // waited there, so the data queue filled up and candles were dropped
  it.effect("never makes a data handler wait on the order queue: every candle is handled, none is dropped", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        TradingEngine.layer.pipe(
          Layer.provideMerge(
            Layer.mergeAll(
              MemoryEventBus.layer({ dataCapacity: 100, orderCapacity }),
              PaperBroker.layer({ latency: "2 seconds" }),
              MemoryPortfolio.layer
            )
          )
        ),
        scope
      )
      const bus = Context.get(context, EventBus)
      // a long position: every candle marks it to market and publishes a PositionUpdated
      yield* Context.get(context, Portfolio).applyFill(seed)
      // the broker takes 2 s per order and the clock stands still: the order queue fills up and stays full
      const orders = yield* Effect.fork(
        bus.publishAll(
          Array.from({ length: orderCount }, (_, i) => makeEventAt("OrderCreated", order(`o-${i}`), 0, { source: "test" }))
        )
      )
      yield* settle
      expect((yield* bus.stats).order.size).toBe(orderCapacity)

      // the feed at full speed, a quarter of the data queue at a time, without the clock moving
      yield* feed(bus, (i) => 100 + (i % chunk))
      const seen = yield* Context.get(context, EngineStats).snapshot
      const during = yield* bus.stats

      // the broker works through the orders (each an OrderCreated, an OrderFilled and a PositionUpdated); then the
      // scope closes and the bus drains
      for (let i = 0; i < 3 * orderCount && (yield* bus.stats).order.processed < 3 * orderCount; i++) {
        yield* TestClock.adjust("2 seconds")
        yield* settle
      }
      yield* Fiber.join(orders)
      yield* Scope.close(scope, Exit.void)

      expect(seen.candles).toEqual({ BTCUSDT: chunk * chunks })
      expect(during.data).toMatchObject({ size: 0, dropped: 0, failed: 0 })
      // the order queue was full all along: the data queue kept flowing beside it
      expect(during.order.size).toBe(orderCapacity)
    }))

  it.effect("with the whole pipeline (a signal every few candles, the default risk limits): no candle waits or is dropped", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        TradingEngine.layer.pipe(
          Layer.provideMerge(Layer.mergeAll(SmaCrossoverStrategy.layer({ fast: 2, slow: 3 }), RiskOrderManager.layer())),
          Layer.provideMerge(
            Layer.mergeAll(
              MemoryEventBus.layer({ dataCapacity: 100 }),
              PaperBroker.layer({ latency: "2 seconds" }),
              MemoryPortfolio.layer
            )
          )
        ),
        scope
      )
      const bus = Context.get(context, EventBus)
      yield* Context.get(context, Portfolio).applyFill(seed)
      // a zigzag: the SMAs cross every few candles
      yield* feed(bus, (i) => 100 + [0, 1, 2, 3, 2, 1][i % 6]!)
      const seen = yield* Context.get(context, EngineStats).snapshot
      const during = yield* bus.stats
      // the broker executes the few orders the risk limits let through, then the scope closes and the bus drains
      for (let i = 0; i < 10; i++) {
        yield* TestClock.adjust("2 seconds")
        yield* settle
      }
      yield* Scope.close(scope, Exit.void)
      const end = yield* Context.get(context, EngineStats).snapshot

      expect(seen.candles).toEqual({ BTCUSDT: chunk * chunks })
      expect(seen.signals).toBeGreaterThan(100)
      // maxOpenOrders (5) orders wait for the broker, one in its hands; after them every LONG is refused at once
      // (and every SHORT, flat then, creates nothing)
      expect(during.order.size).toBe(4)
      expect(seen.rejected).toBeGreaterThan(100)
      expect(seen.errors).toBe(0)
      expect(end).toMatchObject({ orders: 5, fills: 5, errors: 0 })
      expect(during.data).toMatchObject({ size: 0, dropped: 0, failed: 0 })
      expect(during.signal).toMatchObject({ size: 0, failed: 0 })
    }))
})
