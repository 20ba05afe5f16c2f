import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Duration, Effect, Fiber, Layer, Option } from "effect"
import type { BusEvent } from "../../src/domain/BusEvent.js"
import { decimalFromNumber } from "../../src/domain/Decimal.js"
import type { Fill, Order } from "../../src/domain/Order.js"
import { StrategyError } from "../../src/domain/TradingErrors.js"
import * as Engine from "../../src/layers/engine/Engine.js"
import * as SmaCrossoverStrategy from "../../src/layers/trading/SmaCrossoverStrategy.js"
import { engineOptionsOf } from "../../src/programs/runCommand.js"
import type { RunConfig } from "../../src/programs/RunOptions.js"
import { EventBus } from "../../src/services/EventBus.js"
import { Strategy } from "../../src/services/Strategy.js"
import { testRunConfig } from "../support/runConfig.js"

/** Records what went over the bus, subscribed before the source starts. */
const recorder = () => {
  const events: Array<BusEvent> = []
  const layer = Layer.scopedDiscard(Effect.gen(function*() {
    const bus = yield* EventBus
    const record = (e: BusEvent) => Effect.sync(() => events.push(e))
    for (const type of ["CandleClosed", "SignalGenerated", "OrderCreated", "OrderFilled", "OrderRejected", "Error"] as const) {
      yield* bus.subscribe(type, record, { name: `recorder:${type}` })
    }
  }))
  const of = <T extends BusEvent["type"]>(type: T) =>
    events.filter((e): e is Extract<BusEvent, { type: T }> => e.type === type)
  return { layer, of }
}

/** Every order created ends exactly once: one fill or one rejection, none missing, none twice. */
const expectEveryOrderSettledOnce = (created: ReadonlyArray<Order>, fills: ReadonlyArray<Fill>, rejected: ReadonlyArray<Order>) => {
  const outcomes = new Map<string, number>()
  for (const id of [...fills.map((f) => f.clientOrderId), ...rejected.map((o) => o.clientOrderId)]) {
    outcomes.set(id, (outcomes.get(id) ?? 0) + 1)
  }
  expect(created.length).toBeGreaterThan(0)
  for (const order of created) expect([order.clientOrderId, outcomes.get(order.clientOrderId)]).toEqual([order.clientOrderId, 1])
  // a fill is of a created order; a rejection may also be a signal the risk checks refused (no OrderCreated)
  const ids = new Set(created.map((o) => o.clientOrderId))
  expect(fills.every((f) => ids.has(f.clientOrderId))).toBe(true)
  expect(new Set(rejected.map((o) => o.clientOrderId)).size).toBe(rejected.length)
}

const signed = (f: Fill) => f.side === "BUY" ? f.quantity : BigDecimal.negate(f.quantity)

/** The library's engine with `trading-bus run`'s settings (no journal, no metrics server): the SMA unless told. */
const run = (
  config: RunConfig,
  extras: { readonly plugins?: Layer.Layer<never, never, EventBus>; readonly strategy?: Layer.Layer<Strategy> }
) =>
  Engine.run({
    ...engineOptionsOf(config, extras.strategy ?? Layer.orDie(SmaCrossoverStrategy.layer({ fast: config.fast, slow: config.slow }))),
    ...(extras.plugins !== undefined ? { plugins: extras.plugins } : {})
  })

describe("the engine on the simulator, end to end", () => {
  it.live("candles -> signals -> orders -> fills -> positions add up, and P&L recomputed from the fills matches", () =>
    Effect.gen(function*() {
      const rec = recorder()
      const summary = (yield* run(testRunConfig(), { plugins: rec.layer }))!
      const fills = rec.of("OrderFilled").map((e) => e.payload)
      expectEveryOrderSettledOnce(rec.of("OrderCreated").map((e) => e.payload), fills, rec.of("OrderRejected").map((e) => e.payload))
      expect(summary.fills).toBe(fills.length)
      const lastClose = new Map<string, number>()
      for (const e of rec.of("CandleClosed")) lastClose.set(e.payload.symbol, e.payload.close)
      // cash-flow identity: realized + unrealized = what was received for sales - paid for buys - fees + position at the last close
      let total = BigDecimal.fromBigInt(0n)
      for (const symbol of new Set(fills.map((f) => f.symbol))) {
        const mine = fills.filter((f) => f.symbol === symbol)
        const position = BigDecimal.sumAll(mine.map(signed))
        expect(BigDecimal.format(BigDecimal.normalize(position))).toBe(summary.positions[symbol] ?? "0")
        const cash = BigDecimal.sumAll(mine.map((f) => BigDecimal.subtract(BigDecimal.negate(BigDecimal.multiply(signed(f), f.price)), f.fee)))
        total = BigDecimal.sum(total, BigDecimal.sum(cash, BigDecimal.multiply(position, decimalFromNumber(lastClose.get(symbol)!))))
      }
      const reported = BigDecimal.sum(BigDecimal.unsafeFromString(summary.pnl.realized), BigDecimal.unsafeFromString(summary.pnl.unrealized))
      // the summary rounds each of its two figures to 8 decimals
      expect(Math.abs(BigDecimal.unsafeToNumber(BigDecimal.subtract(reported, total)))).toBeLessThanOrEqual(1e-8)
      expect(summary.candles.BTCUSDT).toBeGreaterThan(100)
      expect(summary.queues.data!.dropped).toBe(0)
    }), 30_000)

  it.live("is reproducible with --seed: the same seed, the same candles and signals", () =>
    Effect.gen(function*() {
      const once = (seed: number) =>
        Effect.gen(function*() {
          const rec = recorder()
          yield* run(testRunConfig({ seed, duration: Option.some(Duration.millis(800)) }), { plugins: rec.layer })
          const signals = rec.of("SignalGenerated").map((e) => {
            const { direction, price, symbol, timestamp } = e.payload
            return { direction, price, symbol, timestamp }
          })
          const btc = rec.of("CandleClosed").filter((e) => e.payload.symbol === "BTCUSDT").map((e) => e.payload)
          return { signals: signals.filter((x) => x.symbol === "BTCUSDT").slice(0, 5), candles: btc.slice(0, 50) }
        })
      const a = yield* once(11)
      const b = yield* once(11)
      const c = yield* once(12)
      expect(a.candles.length).toBe(50)
      expect(b.candles).toEqual(a.candles)
      expect(a.signals.length).toBeGreaterThan(0)
      expect(b.signals).toEqual(a.signals)
      expect(c.candles).not.toEqual(a.candles)
    }), 30_000)

  it.live("an interruption during heavy flow loses no order: every OrderCreated ends filled or rejected", () =>
    Effect.gen(function*() {
      const rec = recorder()
      const config = testRunConfig({ duration: Option.none(), speed: 1000, fast: 2, slow: 3, maxOpenOrders: 50 })
      const fiber = yield* Effect.fork(run(config, { plugins: rec.layer }))
      while (rec.of("OrderCreated").length < 20) yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(fiber)
      expectEveryOrderSettledOnce(
        rec.of("OrderCreated").map((e) => e.payload),
        rec.of("OrderFilled").map((e) => e.payload),
        rec.of("OrderRejected").map((e) => e.payload)
      )
    }), 30_000)

  it.live("a strategy that throws on some candles produces Error events, and the engine goes on", () =>
    Effect.gen(function*() {
      const rec = recorder()
      let calls = 0
      const flaky = Layer.succeed(Strategy, {
        name: "flaky",
        analyze: (candle) => {
          calls++
          if (calls % 3 === 0) throw new Error(`cannot analyze ${candle.symbol} ${candle.openTime}`)
          if (calls % 5 === 0) return Effect.fail(new StrategyError({ strategy: "flaky", symbol: candle.symbol, message: "no opinion" }))
          return Effect.succeed(Option.none())
        }
      })
      const summary = (yield* run(testRunConfig({ duration: Option.some(Duration.seconds(1)) }), { plugins: rec.layer, strategy: flaky }))!
      const errors = rec.of("Error").map((e) => e.payload)
      expect(errors.length).toBeGreaterThan(10)
      expect(errors.some((e) => e.message.includes("cannot analyze") || e.cause.includes("cannot analyze"))).toBe(true)
      expect(calls).toBe(rec.of("CandleClosed").length)
      expect(summary.errors).toBe(errors.length)
    }), 30_000)
})
