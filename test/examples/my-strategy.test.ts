import { describe, expect, it } from "@effect/vitest"
import { vi } from "vitest"
import { Effect, Logger, LogLevel } from "effect"
import { main } from "../../examples/my-strategy.js"

describe("examples/my-strategy.ts", () => {
  it.live("backtests the RSI strategy on the bundled sample, then paper-trades it against the simulator", () =>
    Effect.gen(function*() {
      const printed: Array<string> = []
      const spy = vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => void printed.push(args.join(" ")))
      const { report, summary } = yield* main.pipe(Effect.ensuring(Effect.sync(() => spy.mockRestore())))
      // money for people: at most 8 decimals in what it prints (the report and summary keep the exact strings)
      expect(printed).toHaveLength(2)
      for (const line of printed) expect(line).not.toMatch(/\d\.\d{9,}/)
      // the sample: one day of 1m ADABTC candles, all through the engine
      expect([report.symbol, report.interval, report.candles, report.malformed, report.dropped]).toEqual(["ADABTC", "1m", 1440, 0, 0])
      expect(report.signals).toBeGreaterThan(5)
      // long-only: a LONG when flat, a CLOSE when long, so every order is filled and the trips alternate
      expect(report.fills).toBe(report.orders)
      expect([report.rejected, report.errors]).toEqual([0, 0])
      expect(report.roundTrips).toBeGreaterThan(0)
      // the simulator: a few seconds of 1s candles, handled without a dropped candle or an error
      expect(summary.candles["BTCUSDT"]).toBeGreaterThan(20)
      expect(summary.errors).toBe(0)
      expect(summary.queues["data"]!.dropped).toBe(0)
      expect(summary.fills).toBe(summary.orders)
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)), { timeout: 60_000 })
})
