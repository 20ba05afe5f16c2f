import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { makeEventAt } from "../../../src/domain/BusEvent.js"
import * as Metrics from "../../../src/domain/Metrics.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as PaperBroker from "../../../src/layers/execution/PaperBroker.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import * as RiskOrderManager from "../../../src/layers/trading/RiskOrderManager.js"
import * as SmaCrossoverStrategy from "../../../src/layers/trading/SmaCrossoverStrategy.js"
import * as TradingEngine from "../../../src/layers/trading/TradingEngine.js"
import { EngineStats } from "../../../src/services/EngineStats.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { candleAt } from "../../support/fixtures.js"

// SMA 3/5: up (LONG, a BUY), down (SHORT, the SELL that closes it)
const series = [10, 10, 10, 10, 10, 11, 12, 13, 12, 11, 10, 9, 8]

/** The series through an engine on `symbol`; its own counters once the bus has drained. */
const run = (symbol: string, options: TradingEngine.TradingEngineOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const bus = yield* EventBus
    yield* bus.publishAll(series.map((c, i) => makeEventAt("CandleClosed", candleAt(i, c, symbol), i, { source: "test" })))
    return yield* EngineStats
  }).pipe(Effect.provide(TradingEngine.layerWith(options).pipe(
    Layer.provideMerge(Layer.mergeAll(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }), RiskOrderManager.layer())),
    Layer.provideMerge(Layer.mergeAll(MemoryEventBus.layer(), PaperBroker.layer(), MemoryPortfolio.layer))
  )))).pipe(Effect.flatMap((stats) => stats.snapshot))

/** What the process's metrics say of `symbol`. */
const recorded = (symbol: string) =>
  Effect.all({
    signals: Metric.value(Metric.tagged(Metric.tagged(Metrics.signalsTotal, "symbol", symbol), "direction", "LONG")),
    filled: Metric.value(
      Metric.tagged(Metric.tagged(Metric.tagged(Metrics.ordersTotal, "symbol", symbol), "side", "BUY"), "status", "filled")
    ),
    pairs: Effect.map(Metric.snapshot, (pairs) =>
      pairs.filter((p) => p.metricKey.tags.some((t) => t.key === "symbol" && t.value === symbol)).map((p) => p.metricKey.name))
  })

describe("TradingEngine's metrics", () => {
  it.effect("counts signals and orders and sets the position gauge by default", () =>
    Effect.gen(function*() {
      const counters = yield* run("ETHUSDT", {})
      expect(counters).toMatchObject({ signals: 2, orders: 2, fills: 2 })
      const { filled, pairs, signals } = yield* recorded("ETHUSDT")
      expect([signals.count, filled.count]).toEqual([1, 1])
      expect(pairs).toContain("trading_bus_position")
    }))

  it.effect("records none with metrics: false (a backtest's), its own counters unchanged", () =>
    Effect.gen(function*() {
      const counters = yield* run("ADAUSDT", { metrics: false })
      expect(counters).toMatchObject({ signals: 2, orders: 2, fills: 2 })
      const { filled, pairs, signals } = yield* recorded("ADAUSDT")
      expect([signals.count, filled.count]).toEqual([0, 0])
      expect(pairs.filter((name) => name !== "trading_bus_signals_total" && name !== "trading_bus_orders_total")).toEqual([])
    }))
})
