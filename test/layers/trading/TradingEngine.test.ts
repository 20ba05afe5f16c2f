import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Context, Effect, Layer, Logger } from "effect"
import { type BusEvent, type EventPayload, type EventType, eventTypes, makeEventAt } from "../../../src/domain/BusEvent.js"
import type { Candle } from "../../../src/domain/Candle.js"
import { formatDecimal } from "../../../src/domain/Decimal.js"
import type { Fill } from "../../../src/domain/Order.js"
import type { Signal, SignalDirection } from "../../../src/domain/Signal.js"
import { OrderError, StrategyError } from "../../../src/domain/TradingErrors.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import * as PaperBroker from "../../../src/layers/execution/PaperBroker.js"
import * as RiskOrderManager from "../../../src/layers/trading/RiskOrderManager.js"
import * as SmaCrossoverStrategy from "../../../src/layers/trading/SmaCrossoverStrategy.js"
import * as TradingEngine from "../../../src/layers/trading/TradingEngine.js"
import type { Broker } from "../../../src/services/Broker.js"
import { EngineStats } from "../../../src/services/EngineStats.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { OrderManager } from "../../../src/services/OrderManager.js"
import { Portfolio } from "../../../src/services/Portfolio.js"
import { Strategy } from "../../../src/services/Strategy.js"
import { candleAt, expectedSmaSignals } from "../../support/fixtures.js"

const minute = 60_000
const d = BigDecimal.unsafeFromString
const zero = BigDecimal.fromBigInt(0n)



const closes = [10, 10, 10, 10, 10, 11, 12, 13, 12, 11, 10, 9, 8, 9, 10, 11, 12, 13, 14, 20, 20, 20, 20, 20, 20, 21]

interface LogEntry {
  readonly level: string
  readonly message: string
}

const captureLogs = () => {
  const entries: Array<LogEntry> = []
  const logger = Logger.make(({ logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    entries.push({ level: logLevel.label, message: String(parts[0]) })
  })
  return { entries, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** The engine with its infrastructure (a real bus, paper broker, memory portfolio) and the given extras. */
const engineWith = <ROut extends Strategy | OrderManager, E, RIn extends Portfolio>(
  extras: Layer.Layer<ROut, E, RIn>,
  broker: Layer.Layer<Broker, unknown> = PaperBroker.layer()
) =>
  TradingEngine.layer.pipe(
    Layer.provideMerge(extras),
    Layer.provideMerge(Layer.mergeAll(MemoryEventBus.layer(), broker, MemoryPortfolio.layer))
  )

/**
 * Builds the engine, records every event on the bus, publishes the candles,
 * then closes the scope: the bus drains before it stops, so everything the
 * candles set off has happened when this returns.
 */
const run = <E>(
  layer: Layer.Layer<EngineStats | EventBus | Portfolio, E>,
  candles: ReadonlyArray<Candle>,
  setup: (portfolio: Portfolio["Type"]) => Effect.Effect<unknown> = () => Effect.void
) =>
  Effect.gen(function*() {
    const events: Array<BusEvent> = []
    const { portfolio, stats } = yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(layer)
      const bus = Context.get(context, EventBus)
      const portfolio = Context.get(context, Portfolio)
      for (const type of eventTypes) {
        yield* bus.subscribe(type, (event) => (events.push(event), Effect.void), { name: "test-recorder" })
      }
      yield* setup(portfolio)
      yield* bus.publishAll(candles.map((c) => makeEventAt("CandleClosed", c, c.closeTime, { source: "test" })))
      return { portfolio, stats: Context.get(context, EngineStats) }
    }))
    const of = <T extends EventType>(type: T): Array<EventPayload<T>> =>
      events.flatMap((e) => e.type === type ? [e.payload as EventPayload<T>] : [])
    return { events, of, portfolio, counters: yield* stats.snapshot }
  })

const signedQuantity = (f: Fill) => f.side === "BUY" ? f.quantity : BigDecimal.negate(f.quantity)

/** P&L from first principles: sells - buys - fees + the open quantity at the last close. */
const pnlFromFills = (fills: ReadonlyArray<Fill>, lastClose: BigDecimal.BigDecimal) => {
  let cash = zero
  let quantity = zero
  for (const f of fills) {
    cash = BigDecimal.subtract(BigDecimal.subtract(cash, BigDecimal.multiply(signedQuantity(f), f.price)), f.fee)
    quantity = BigDecimal.sum(quantity, signedQuantity(f))
  }
  return BigDecimal.sum(cash, BigDecimal.multiply(quantity, lastClose))
}

describe("TradingEngine", () => {
  it.effect("runs candles -> signals -> orders -> fills -> positions, consistently to the last decimal", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const layer = engineWith(
        Layer.mergeAll(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }), RiskOrderManager.layer())
      )
      const { counters, events, of, portfolio } = yield* run(layer, closes.map((c, i) => candleAt(i, c))).pipe(
        Effect.provide(logs.layer)
      )
      const expected = expectedSmaSignals(closes, 3, 5)
      const signals = of("SignalGenerated")
      expect(signals.map((s) => [s.direction, s.timestamp])).toEqual(
        expected.map((e) => [e.direction, e.index * minute + minute - 1])
      )
      expect(events.filter((e) => e.type !== "CandleClosed").every((e) => e.source === "engine")).toBe(true)

      const orders = of("OrderCreated")
      const fills = of("OrderFilled")
      // flat -> long, SHORT closes it (long-only), long, close, long
      expect(orders.map((o) => o.side)).toEqual(["BUY", "SELL", "BUY", "SELL", "BUY"])
      expect(fills.map((f) => f.clientOrderId)).toEqual(orders.map((o) => o.clientOrderId))
      expect(fills.map((f) => formatDecimal(f.quantity))).toEqual(orders.map((o) => formatDecimal(o.quantity)))
      expect(of("OrderRejected")).toEqual([])
      expect(of("Error")).toEqual([])

      const position = (yield* portfolio.position("BTCUSDT"))!
      const net = fills.reduce((q, f) => BigDecimal.sum(q, signedQuantity(f)), zero)
      expect(formatDecimal(position.quantity)).toBe(formatDecimal(net))
      expect(formatDecimal(position.quantity)).toBe("4.761904") // the last LONG: 100 / 21, rounded down
      expect(formatDecimal(position.markPrice)).toBe("21")
      const pnl = yield* portfolio.pnl
      expect(formatDecimal(BigDecimal.sum(pnl.realized, pnl.unrealized))).toBe(
        formatDecimal(pnlFromFills(fills, d("21")))
      )
      // every fill updated the position (candles may too, depending on how far the data queue ran ahead)
      const updates = of("PositionUpdated")
      expect(updates.length).toBeGreaterThanOrEqual(fills.length)
      expect(formatDecimal(updates.at(-1)!.quantity)).toBe("4.761904")

      expect(counters).toEqual({
        candles: { BTCUSDT: closes.length },
        signals: 5,
        orders: 5,
        fills: 5,
        rejected: 0,
        errors: 0
      })
      expect(logs.entries).toContainEqual({ level: "INFO", message: "trading engine started: trading (strategy sma)" })
    }))

  it.effect("publishes an Error event for a strategy's failure or defect and goes on with the next candle", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const flaky = Layer.succeed(
        Strategy,
        Strategy.of({
          name: "flaky",
          analyze: (candle) => {
            if (candle.close === 101) {
              return Effect.fail(new StrategyError({ strategy: "flaky", symbol: candle.symbol, message: "bad candle" }))
            }
            if (candle.close === 103) throw new Error("boom") // a defect, thrown instead of returned
            const direction: SignalDirection = candle.close === 102 ? "CLOSE" : "LONG"
            return Effect.succeedSome<Signal>({
              symbol: candle.symbol,
              direction,
              price: candle.close,
              strategy: "flaky",
              reason: "test",
              timestamp: candle.closeTime
            })
          }
        })
      )
      const layer = engineWith(Layer.mergeAll(flaky, RiskOrderManager.layer()))
      const { counters, of, portfolio } = yield* run(layer, [100, 101, 102, 103, 104].map((c, i) => candleAt(i, c)))
        .pipe(Effect.provide(logs.layer))

      const errors = of("Error")
      expect(errors.map((e) => [e.component, e.message])).toEqual([
        ["strategy flaky", "strategy flaky failed on the BTCUSDT candle closing at 119999: StrategyError: bad candle"],
        ["strategy flaky", "strategy flaky failed on the BTCUSDT candle closing at 239999: defect: Error: boom"]
      ])
      expect(errors[0]!.cause).toContain("bad candle")
      expect(errors[1]!.cause).toContain("Error: boom")
      expect(of("SignalGenerated").map((s) => s.direction)).toEqual(["LONG", "CLOSE", "LONG"])
      expect(of("OrderFilled").map((f) => f.side)).toEqual(["BUY", "SELL", "BUY"])
      const position = (yield* portfolio.position("BTCUSDT"))!
      expect(formatDecimal(position.quantity)).toBe("0.961538") // 100 / 104, rounded down
      expect(counters).toMatchObject({ signals: 3, orders: 3, fills: 3, errors: 2 })
      expect(logs.entries.filter((e) => e.level === "WARN").map((e) => e.message)).toEqual(errors.map((e) => e.message))
    }))

  it.effect("publishes an order manager's failure as an Error event, logged at error level", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      // the real order manager, behind one that refuses SHORT signals
      const noShorts = Layer.effect(
        OrderManager,
        Effect.map(OrderManager, (inner) =>
          OrderManager.of({
            createOrder: (signal) =>
              signal.direction === "SHORT"
                ? Effect.fail(new OrderError({ symbol: signal.symbol, message: "no shorts" }))
                : inner.createOrder(signal)
          }))
      ).pipe(Layer.provide(RiskOrderManager.layer()))
      const layer = engineWith(Layer.mergeAll(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }), noShorts))
      // up (LONG), down (SHORT), up again (LONG)
      const series = [10, 10, 10, 10, 10, 11, 12, 13, 12, 11, 10, 9, 8, 9, 10, 11]
      const { counters, of, portfolio } = yield* run(layer, series.map((c, i) => candleAt(i, c))).pipe(
        Effect.provide(logs.layer)
      )
      expect(of("SignalGenerated").map((s) => s.direction)).toEqual(["LONG", "SHORT", "LONG"])
      const errors = of("Error")
      expect(errors.map((e) => [e.component, e.message])).toEqual([
        ["order-manager", "order-manager failed on the SHORT BTCUSDT signal of sma at 659999: OrderError: no shorts"]
      ])
      expect(logs.entries).toContainEqual({ level: "ERROR", message: errors[0]!.message })
      // the pipeline went on: the LONG after the failure still traded, adding to the long (100 / 11 twice)
      expect(counters).toMatchObject({ signals: 3, orders: 2, fills: 2, errors: 1 })
      expect(formatDecimal((yield* portfolio.position("BTCUSDT"))!.quantity)).toBe("18.181818")
    }))

  it.effect("publishes OrderRejected with the broker's reason when the broker refuses an order", () =>
    Effect.gen(function*() {
      const layer = engineWith(
        Layer.mergeAll(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }), RiskOrderManager.layer()),
        PaperBroker.layer({ maxPositionNotional: "50" })
      )
      const { counters, of, portfolio } = yield* run(layer, closes.slice(0, 8).map((c, i) => candleAt(i, c)))
      const rejected = of("OrderRejected")
      expect(rejected).toHaveLength(1)
      expect(rejected[0]).toMatchObject({ side: "BUY", status: "REJECTED", clientOrderId: of("OrderCreated")[0]!.clientOrderId })
      expect(rejected[0]!.reason).toMatch(/^the BTCUSDT position notional would be [\d.]+, above maxPositionNotional 50$/)
      expect(yield* portfolio.positions).toEqual([])
      expect(counters).toMatchObject({ signals: 1, orders: 1, fills: 0, rejected: 1, errors: 0 })
    }))

  it.effect("runs data-only without a Strategy: candles are counted and mark the open positions", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const { counters, of } = yield* run(
        engineWith(Layer.empty),
        [candleAt(0, 100), candleAt(0, 3000, "ETHUSDT"), candleAt(1, 110)],
        (portfolio) =>
          portfolio.applyFill({
            clientOrderId: "seed",
            tradeId: "seed",
            symbol: "BTCUSDT",
            side: "BUY",
            type: "MARKET",
            quantity: d("0.5"),
            price: d("90"),
            fee: zero,
            status: "FILLED",
            orderCreatedAt: 0,
            filledAt: 0
          })
      ).pipe(Effect.provide(logs.layer))
      // only the symbol with a position is published
      expect(of("PositionUpdated").map((p) => [p.symbol, formatDecimal(p.markPrice), formatDecimal(p.unrealizedPnl)]))
        .toEqual([["BTCUSDT", "100", "5"], ["BTCUSDT", "110", "10"]])
      expect(counters).toEqual({ candles: { BTCUSDT: 2, ETHUSDT: 1 }, signals: 0, orders: 0, fills: 0, rejected: 0, errors: 0 })
      expect(logs.entries.map((e) => e.message)).toContain(
        "trading engine started: data-only (no Strategy: candles mark positions, no signals are generated)"
      )
    }))

  it.effect("runs analysis-only without an OrderManager: signals are published, nothing is traded", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const { counters, of } = yield* run(
        engineWith(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 })),
        closes.map((c, i) => candleAt(i, c))
      ).pipe(Effect.provide(logs.layer))
      expect(of("SignalGenerated").map((s) => s.direction)).toEqual(expectedSmaSignals(closes, 3, 5).map((e) => e.direction))
      expect(of("OrderCreated")).toEqual([])
      expect(counters).toMatchObject({ signals: 5, orders: 0, fills: 0 })
      expect(logs.entries.map((e) => e.message)).toContain(
        "trading engine started: analysis-only (strategy sma, no OrderManager: signals are not traded)"
      )
    }))
})
