import { describe, expect, it } from "@effect/vitest"
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Backtest from "../../../src/layers/engine/Backtest.js"
import { combinationsOf, parseRange, rankOrder } from "../../../src/layers/engine/internal/sweepGrid.js"
import * as Sweep from "../../../src/layers/engine/Sweep.js"
import * as SmaCrossoverStrategy from "../../../src/layers/trading/SmaCrossoverStrategy.js"

const candles = "test/fixtures/binance/ADABTC-1m-2021-11-27.csv"
const trading = { quoteAmount: "0.01", maxPositionNotional: "0.05", capital: "1" }
// timing differs from run to run; everything else must be equal
const untimed = ({ candlesPerSecond: _c, elapsedMs: _e, ...rest }: Backtest.BacktestReport) => rest

describe("Sweep grid", () => {
  it("expands ranges and combinations", () => {
    expect(parseRange("5:20:5", { integer: true })).toEqual({ values: [5, 10, 15, 20] })
    expect(parseRange("0.1:0.3:0.1", { integer: false })).toEqual({ values: [0.1, 0.2, 0.3] })
    expect(parseRange("20:5:5", { integer: true })).toHaveProperty("refused")
    expect(parseRange("5:20:0", { integer: true })).toHaveProperty("refused")
    expect(combinationsOf({ a: [1, 2], b: [3, 4] })).toEqual([{ a: 1, b: 3 }, { a: 1, b: 4 }, { a: 2, b: 3 }, { a: 2, b: 4 }])
  })

  it("ranks best first, nulls last, drawdowns lowest first", () => {
    const entry = (sharpe: number | null, maxDrawdownPct: number) => ({ report: { sharpe, maxDrawdownPct } as Backtest.BacktestReport })
    const xs = [entry(1, 3), entry(null, 1), entry(2, 2)]
    expect(rankOrder(xs, "sharpe").map((x) => x.report.sharpe)).toEqual([2, 1, null])
    expect(rankOrder(xs, "maxDrawdownPct").map((x) => x.report.maxDrawdownPct)).toEqual([1, 2, 3])
  })
})

describe("Sweep.run", () => {
  it.live("each combination's report equals a single Backtest.run of it; fast >= slow is skipped", () =>
    Effect.gen(function*() {
      const sweep = yield* Sweep.run({ candles, strategy: "sma", grid: { fast: [5, 20], slow: [20, 30] }, workers: 2, ...trading })
      expect(sweep.combinations).toBe(4)
      expect(sweep.workers).toBe(2)
      expect(sweep.skipped.map((s) => s.params)).toEqual([{ fast: 20, slow: 20 }])
      expect(sweep.skipped[0]!.reason).toContain("less than slow")
      expect(sweep.results.map((r) => r.rank)).toEqual([1, 2, 3])
      const sharpes = sweep.results.map((r) => r.report.sharpe ?? -Infinity)
      expect([...sharpes].sort((a, b) => b - a)).toEqual(sharpes)
      for (const result of sweep.results) {
        const single = yield* Backtest.run({
          candles,
          strategy: Layer.orDie(SmaCrossoverStrategy.layer({ fast: Number(result.params.fast), slow: Number(result.params.slow) })),
          ...trading
        })
        expect(untimed(result.report)).toEqual(untimed(single))
      }
    }), 120_000)

  it.effect("refuses an empty grid and a bad rank field", () =>
    Effect.gen(function*() {
      const empty = yield* Effect.flip(Sweep.run({ candles, strategy: "sma", grid: { fast: [] } }))
      expect(empty).toMatchObject({ _tag: "SweepConfigError", setting: "grid.fast" })
      const rank = yield* Effect.flip(Sweep.run({ candles, strategy: "sma", grid: { fast: [5] }, rankBy: "elapsedMs" as never }))
      expect(rank).toMatchObject({ _tag: "SweepConfigError", setting: "rankBy" })
    }))

  // the threads read the file while the sweep checks it, and fail on it too: the file's own error is reported
  it.live("a file it cannot use is a CandleFileError, as for a single backtest", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const missing = yield* Effect.flip(Sweep.run({ candles: `${dir}/none.csv`, strategy: "sma", grid: { fast: [5, 10] }, workers: 2 }))
      expect(missing).toMatchObject({ _tag: "CandleFileError", option: "candles" })
      const bad = `${dir}/ADABTC-1m-2021-11-27.csv`
      yield* fs.writeFileString(bad, `${(yield* fs.readFileString(candles)).split("\n").slice(0, 30).join("\n")}\nnot,a,kline\n`)
      const strict = yield* Effect.flip(Sweep.run({ candles: bad, strategy: "sma", grid: { fast: [5, 10] }, workers: 2, strict: true }))
      expect(strict).toMatchObject({ _tag: "CandleFileError", option: "candles", line: 31 })
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 60_000)
})
