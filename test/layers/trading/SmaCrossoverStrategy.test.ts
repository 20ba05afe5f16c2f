import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { Candle } from "../../../src/domain/Candle.js"
import type { Signal } from "../../../src/domain/Signal.js"
import * as SmaCrossoverStrategy from "../../../src/layers/trading/SmaCrossoverStrategy.js"
import { Strategy } from "../../../src/services/Strategy.js"
import { candleAt, expectedSmaSignals } from "../../support/fixtures.js"

const minute = 60_000



const feed = (candles: ReadonlyArray<Candle>) =>
  Effect.gen(function*() {
    const strategy = yield* Strategy
    const signals: Array<Signal> = []
    for (const candle of candles) {
      const signal = yield* strategy.analyze(candle, Strategy.flat)
      if (Option.isSome(signal)) signals.push(signal.value)
    }
    return signals
  })

// flat, up, down, up, then flat long enough for the SMAs to meet
const closes = [10, 10, 10, 10, 10, 11, 12, 13, 12, 11, 10, 9, 8, 9, 10, 11, 12, 13, 14, 20, 20, 20, 20, 20, 20, 21]

describe("SmaCrossoverStrategy", () => {
  it.effect("signals LONG, SHORT and CLOSE exactly where the SMAs of the closes cross", () =>
    Effect.gen(function*() {
      const signals = yield* feed(closes.map((c, i) => candleAt(i, c, "BTCUSDT")))
      const expected = expectedSmaSignals(closes, 3, 5)
      // the series is built to exercise every kind of signal
      expect(expected.map((e) => e.direction)).toEqual(["LONG", "SHORT", "LONG", "CLOSE", "LONG"])
      expect(signals.map((s) => ({ direction: s.direction, timestamp: s.timestamp }))).toEqual(
        expected.map((e) => ({ direction: e.direction, timestamp: e.index * minute + minute - 1 }))
      )
      expect(signals.map((s) => s.price)).toEqual(expected.map((e) => closes[e.index]))
      expect(signals.every((s) => s.strategy === "sma" && s.symbol === "BTCUSDT")).toBe(true)
      expect(signals[0]!.reason).toBe("SMA(3) 10.33333333 crossed above SMA(5) 10.2")
      expect(signals[1]!.reason).toMatch(/^SMA\(3\) [\d.]+ crossed below SMA\(5\) [\d.]+$/)
      expect(signals[3]!.reason).toBe("SMA(3) 20 met SMA(5) 20")
    }).pipe(Effect.provide(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }))))

  it.effect("emits nothing until the slow SMA is stable, and does not take the first reading for a cross", () =>
    Effect.gen(function*() {
      // fast above slow from the first stable candle on: no cross ever happens
      const signals = yield* feed([1, 2, 3, 4, 5, 6, 7, 8].map((c, i) => candleAt(i, c, "BTCUSDT")))
      expect(signals).toEqual([])
    }).pipe(Effect.provide(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }))))

  it.effect("ignores candles that are not closed", () =>
    Effect.gen(function*() {
      const candles = closes.flatMap((c, i) => [candleAt(i, c * 100, "BTCUSDT", false), candleAt(i, c, "BTCUSDT")])
      const signals = yield* feed(candles)
      expect(signals.map((s) => s.direction)).toEqual(expectedSmaSignals(closes, 3, 5).map((e) => e.direction))
    }).pipe(Effect.provide(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }))))

  it.effect("keeps one pair of SMAs per symbol", () =>
    Effect.gen(function*() {
      const other = closes.map((c) => 40 - c)
      const interleaved = closes.flatMap((c, i) => [candleAt(i, c, "BTCUSDT"), candleAt(i, other[i]!, "ETHUSDT")])
      const signals = yield* feed(interleaved)
      const of = (symbol: string) => signals.filter((s) => s.symbol === symbol).map((s) => s.direction)
      expect(of("BTCUSDT")).toEqual(expectedSmaSignals(closes, 3, 5).map((e) => e.direction))
      expect(of("ETHUSDT")).toEqual(expectedSmaSignals(other, 3, 5).map((e) => e.direction))
      expect(of("ETHUSDT")).toEqual(["SHORT", "LONG", "SHORT", "CLOSE", "SHORT"])
    }).pipe(Effect.provide(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }))))

  it.effect("defaults to SMA(9) and SMA(21)", () =>
    Effect.gen(function*() {
      const series = [...Array(21).fill(100), ...Array(5).fill(101)]
      const signals = yield* feed(series.map((c, i) => candleAt(i, c, "BTCUSDT")))
      expect(signals.map((s) => s.direction)).toEqual(["LONG"])
      expect(signals[0]!.reason).toMatch(/^SMA\(9\) 100\.11111111 crossed above SMA\(21\) 100\.04761905$/)
    }).pipe(Effect.provide(SmaCrossoverStrategy.layer())))

  it.effect.each([
    [{ fast: 0, slow: 5 }, "fast", 0],
    [{ fast: 5, slow: 5 }, "fast", 5],
    [{ fast: 9, slow: 3 }, "fast", 9],
    [{ fast: 2.5, slow: 5 }, "fast", 2.5],
    [{ fast: 3, slow: Number.NaN }, "slow", Number.NaN]
  ] as const)("refuses %j, naming the setting", ([options, setting, value]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(Strategy, SmaCrossoverStrategy.layer(options)))
      expect(error).toBeInstanceOf(SmaCrossoverStrategy.StrategyConfigError)
      expect(error).toMatchObject({ _tag: "StrategyConfigError", setting, strategy: "sma" })
      expect(error.value).toEqual(value)
      expect(error.message).toContain(`setting ${setting}=`)
    }))

  it("writes an SMA in a signal's reason as String(Number(n.toFixed(8))) does, near halves and past 2^52 too", () => {
    let seed = 42
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
    const numbers = [0, -0, 0.5e-8, 1.5e-8, 2.5e-8, 0.125, 30000.123456785, 1e8, 123456789.123456789, 9e15, -42.000000005]
    for (let i = 0; i < 20000; i++) {
      const magnitude = 10 ** (Math.floor(random() * 14) - 5)
      numbers.push((random() - 0.3) * magnitude)
      // exactly on, and one ulp around, a half of the 8th decimal
      const half = (Math.floor(random() * 1e9) + 0.5) / 1e8
      numbers.push(half, half + Number.EPSILON * half, half - Number.EPSILON * half)
    }
    const mismatches = numbers.filter((n) => SmaCrossoverStrategy.formatSma(n) !== String(Number(n.toFixed(8))))
    expect(mismatches).toEqual([])
  })
})
