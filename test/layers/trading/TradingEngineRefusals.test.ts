import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Layer, Logger, LogLevel } from "effect"
import { type BusEvent, type EventPayload, type EventType, eventTypes, makeEventAt } from "../../../src/domain/BusEvent.js"
import { formatDecimal } from "../../../src/domain/Decimal.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as PaperBroker from "../../../src/layers/execution/PaperBroker.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import * as RiskOrderManager from "../../../src/layers/trading/RiskOrderManager.js"
import * as SmaCrossoverStrategy from "../../../src/layers/trading/SmaCrossoverStrategy.js"
import * as TradingEngine from "../../../src/layers/trading/TradingEngine.js"
import { EngineStats } from "../../../src/services/EngineStats.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { candleAt } from "../../support/fixtures.js"

// SMA 3/5: up (LONG), down (SHORT), up again (LONG)
const series = [10, 10, 10, 10, 10, 11, 12, 13, 12, 11, 10, 9, 8, 9, 10, 11]

/** Runs the series through the engine (SMA 3/5, a real order manager and paper broker); the scope's close drains the bus. */
const run = (manager: RiskOrderManager.RiskOrderManagerOptions) =>
  Effect.gen(function*() {
    const logs: Array<{ level: string; message: string; cause: boolean }> = []
    const logger = Logger.make(({ cause, logLevel, message }) => {
      logs.push({ level: logLevel.label, message: String(Array.isArray(message) ? message[0] : message), cause: !Cause.isEmpty(cause) })
    })
    const events: Array<BusEvent> = []
    const layer = TradingEngine.layer.pipe(
      Layer.provideMerge(Layer.mergeAll(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }), RiskOrderManager.layer(manager))),
      Layer.provideMerge(Layer.mergeAll(MemoryEventBus.layer(), PaperBroker.layer(), MemoryPortfolio.layer))
    )
    const { bus, stats } = yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(layer)
      const bus = Context.get(context, EventBus)
      for (const type of eventTypes) yield* bus.subscribe(type, (e) => (events.push(e), Effect.void), { name: "test-recorder" })
      yield* bus.publishAll(series.map((c, i) => makeEventAt("CandleClosed", candleAt(i, c), i, { source: "test" })))
      return { bus, stats: Context.get(context, EngineStats) }
    })).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.Info))
    const of = <T extends EventType>(type: T): Array<EventPayload<T>> =>
      events.flatMap((e) => e.type === type ? [e.payload as EventPayload<T>] : [])
    return { of, logs, counters: yield* stats.snapshot, queues: yield* bus.stats }
  })

describe("TradingEngine's risk refusals", () => {
  it.effect("publishes a refusal as OrderRejected with its reason, counted in rejected, one info line, no error", () =>
    Effect.gen(function*() {
      const { counters, logs, of, queues } = yield* run({ maxPositionNotional: "50" })
      expect(of("SignalGenerated").map((s) => s.direction)).toEqual(["LONG", "SHORT", "LONG"])
      const rejected = of("OrderRejected")
      expect(rejected.map((o) => [o.side, formatDecimal(o.quantity), o.status])).toEqual([
        ["BUY", "9.090909", "REJECTED"], // 100 / 11
        ["BUY", "9.090909", "REJECTED"]
      ])
      expect(rejected[0]!.reason).toBe(
        "a BUY of 9.090909 would take the BTCUSDT position notional to 99.999999, above maxPositionNotional 50"
      )
      expect(new Set(rejected.map((o) => o.clientOrderId)).size).toBe(2)
      expect(of("Error")).toEqual([])
      expect(counters).toMatchObject({ signals: 3, orders: 0, fills: 0, rejected: 2, errors: 0 })
      // on the signal queue with the signals: a refusal never waits for room on the order queue
      expect([queues.signal.processed, queues.order.processed]).toEqual([5, 0])
      // one line each at info, without a Cause (no stack trace); the SHORT while flat is said once at info too
      const refusals = logs.filter((l) => l.message.includes("refused"))
      expect(refusals.map((l) => [l.level, l.cause, l.message.includes("\n")])).toEqual([
        ["INFO", false, false],
        ["INFO", false, false]
      ])
      expect(refusals[0]!.message).toBe(`order ${rejected[0]!.clientOrderId} refused: BUY 9.090909 BTCUSDT: ${rejected[0]!.reason}`)
      expect(logs.filter((l) => l.level === "ERROR" || l.level === "WARN")).toEqual([])
      expect(logs.filter((l) => l.message.includes("opens no short")).map((l) => l.level)).toEqual(["INFO"])
    }))

  it.effect("is long-only by default: the SHORT closes the long and no short is opened; allowShort reverses", () =>
    Effect.gen(function*() {
      const longOnly = yield* run({})
      expect(longOnly.of("OrderFilled").map((f) => [f.side, formatDecimal(f.quantity)])).toEqual([
        ["BUY", "9.090909"], // 100 / 11
        ["SELL", "9.090909"], // the SHORT (at 10) sells what is held, no more
        ["BUY", "9.090909"] // 100 / 11 again
      ])
      const shorts = yield* run({ allowShort: true })
      expect(shorts.of("OrderFilled").map((f) => [f.side, formatDecimal(f.quantity)])).toEqual([
        ["BUY", "9.090909"],
        ["SELL", "19.090909"], // the long of 9.090909 and a short of 100 / 10
        ["BUY", "19.090909"] // the short of 10 back and 100 / 11 long
      ])
    }))
})
