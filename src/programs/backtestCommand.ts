import { Command, Options } from "@effect/cli"
import { Effect, HashMap, Option } from "effect"
import type { TradingOptions } from "../layers/engine/Trading.js"
import type { CandleFileError } from "../layers/market/CandleFile.js"
import type { BacktestConfigError } from "../layers/engine/Backtest.js"
import { asConfigurationError as fromConfigError } from "./ConfigurationError.js"
import { fillModels } from "../layers/engine/BacktestFills.js"
import * as Sweep from "../layers/engine/Sweep.js"
import { backtestProgram, sweepProgram } from "./BacktestOutput.js"
import { ConfigurationError } from "./ConfigurationError.js"
import * as Flag from "./internal/Flags.js"
import * as Logging from "./Logging.js"
import { runFlags } from "./RunOptions.js"
import { resolveStrategy, type StrategyFlags } from "./StrategyModule.js"

/** The engine settings a backtest and a replay take: `run`'s strategy, sizing and paper-broker flags. */
export const tradingFlags = {
  strategy: runFlags.strategy,
  param: runFlags.param,
  allowShort: runFlags.allowShort,
  fast: runFlags.fast,
  slow: runFlags.slow,
  quoteAmount: runFlags.quoteAmount,
  maxPositionNotional: runFlags.maxPositionNotional,
  maxOpenOrders: runFlags.maxOpenOrders,
  feeBps: runFlags.feeBps,
  slippageBps: runFlags.slippageBps
}

/** The trading flags as parsed. */
export interface TradingFlags {
  readonly strategy: string
  readonly param: Option.Option<HashMap.HashMap<string, string>>
  readonly allowShort: boolean
  readonly fast: number
  readonly slow: number
  readonly quoteAmount: string
  readonly maxPositionNotional: string
  readonly maxOpenOrders: number
  readonly feeBps: number
  readonly slippageBps: number
}

/** `--strategy`, `--fast`, `--slow` and `--param` as the strategy loader takes them. */
export const strategyFlagsOf = (flags: TradingFlags): StrategyFlags => ({
  strategy: flags.strategy,
  fast: flags.fast,
  slow: flags.slow,
  params: Option.match(flags.param, { onNone: () => ({}), onSome: (map) => Object.fromEntries(map) })
})

/** The trading flags as the library's options. */
export const tradingOptionsOf = (flags: TradingFlags): TradingOptions => ({
  quoteAmount: flags.quoteAmount,
  maxPositionNotional: flags.maxPositionNotional,
  maxOpenOrders: flags.maxOpenOrders,
  allowShort: flags.allowShort,
  feeBps: flags.feeBps,
  slippageBps: flags.slippageBps
})

/** Where a backtest's (or a replay's) report goes besides stdout. */
export const reportFlags = {
  reportJson: Options.text("report-json").pipe(
    Options.optional,
    Options.withDescription("Write the report as JSON to this file")
  ),
  report: Options.text("report").pipe(
    Options.optional,
    Options.withDescription("Write the report as a self-contained HTML page with the equity curve to this file (opens offline)")
  )
}

/** Which series of a file to use: `--symbol` and `--interval`, described for the command. */
export const seriesFlags = (describe: { readonly symbol: string; readonly interval: string }) => ({
  symbol: Options.text("symbol").pipe(Options.optional, Options.withDescription(describe.symbol)),
  interval: Options.text("interval").pipe(Options.optional, Options.withDescription(describe.interval))
})

/** A backtest's account and fill model, and the CSV files it writes. */
export const modelFlags = {
  capital: Flag.withDefault(
    Flag.positiveDecimal("capital", "1000000000000", "Starting equity in the quote asset, for returns and drawdowns"),
    "10000"
  ),
  fill: Flag.withDefault(
    Flag.choice(
      "fill",
      fillModels,
      "When an order fills: at the next candle's open (an order decided on a close cannot trade at that close), or at the close it was decided on"
    ),
    "next-open"
  ),
  tradesCsv: Options.text("trades-csv").pipe(
    Options.optional,
    Options.withDescription("Write one CSV row per fill (time, symbol, side, quantity, price, fee, clientOrderId) to this file")
  ),
  equityCsv: Options.text("equity-csv").pipe(
    Options.optional,
    Options.withDescription("Write one CSV row per candle (closeTime, close, position, equity) to this file")
  )
}

const backtestFlags = {
  candles: Options.text("candles").pipe(
    Options.withDescription(
      "The candle file: Binance's 12-column kline CSV (with or without a header), a JSON array of [time,o,h,l,c,v], or a journal recorded by trading-bus run --record (its CandleClosed events)"
    )
  ),
  ...seriesFlags({
    symbol: "The candles' symbol (default: the file name's prefix, such as ADABTC in ADABTC-1m-2021-11-27.csv; in a recorded journal, needed when it holds several)",
    interval: "The candles' interval (default: from the file name, such as 1m, else the rows' spacing; in a recorded journal, needed when it holds several)"
  }),
  strict: Options.boolean("strict").pipe(
    Options.withDescription("Stop at the first malformed row (by default it is logged with its line and skipped)")
  ),
  chunked: Options.boolean("chunked").pipe(
    Options.withDescription(
      "Publish candles in chunks as fast as the data queue takes them, instead of one at a time once the pipeline is idle (results may then depend on timing)"
    )
  ),
  ...reportFlags,
  ...modelFlags,
  ...tradingFlags,
  // a grid `from:to:step` (or a `--param k=a:b:s`) makes the backtest a sweep of every combination
  fast: Flag.withDefault(
    Flag.integerGrid("fast", { min: 1, max: 1000 }, "Fast SMA period, below --slow; from:to:step sweeps a grid"),
    { values: [9], grid: false },
    "9"
  ),
  slow: Flag.withDefault(
    Flag.integerGrid("slow", { min: 2, max: 1000 }, "Slow SMA period; from:to:step sweeps a grid"),
    { values: [21], grid: false },
    "21"
  ),
  rankBy: Flag.withDefault(
    Flag.choice("rank-by", Sweep.rankFields, "A sweep's ranking, best first (maxDrawdownPct and maxDrawdown: lowest first)"),
    "sharpe"
  ),
  workers: Flag.optional(Flag.integer("workers", { min: 1, max: 256 }, "A sweep's worker threads (default: the cores, at most the combinations)"))
}

type GridFlag = { readonly values: ReadonlyArray<number>; readonly grid: boolean }

/** `--param` pairs: a value `a:b:s` is a grid of numbers, any other a text every combination shares. */
const paramGrid = (param: Option.Option<HashMap.HashMap<string, string>>) =>
  Effect.gen(function*() {
    const grid: Record<string, ReadonlyArray<number>> = {}
    const fixed: Record<string, string> = {}
    for (const [key, value] of Option.match(param, { onNone: () => [], onSome: (map) => Array.from(map) })) {
      if (!value.includes(":")) {
        fixed[key] = value
        continue
      }
      const range = Sweep.parseRange(value, { integer: false })
      if ("refused" in range) {
        return yield* new ConfigurationError({ flag: "--param", value: `${key}=${value}`, reason: `expected ${range.refused}` })
      }
      grid[key] = range.values
    }
    return { grid, fixed }
  })

/** The sweep `backtest` runs when a flag is a grid; undefined for a single backtest. */
const sweepOf = (flags: { readonly strategy: string; readonly fast: GridFlag; readonly slow: GridFlag; readonly param: Option.Option<HashMap.HashMap<string, string>> }) =>
  Effect.gen(function*() {
    const params = yield* paramGrid(flags.param)
    const sma = flags.strategy === "sma"
    const grid = sma
      ? { ...(flags.fast.grid ? { fast: flags.fast.values } : {}), ...(flags.slow.grid ? { slow: flags.slow.values } : {}) }
      : params.grid
    if (Object.keys(grid).length === 0) return undefined
    const fixed = sma ? { fast: flags.fast.values[0]!, slow: flags.slow.values[0]! } : params.fixed
    return { grid, fixed }
  })

const asConfigurationError = (e: CandleFileError) =>
  new ConfigurationError({ flag: `--${e.option}`, value: e.path, reason: e.message })

export const backtestCommand = Command.make(
  "backtest",
  { ...backtestFlags, ...Logging.loggingFlags },
  ({ candles, capital, chunked, equityCsv, fill, interval, logFormat, logLevel, rankBy, report, reportJson, strict, symbol, tradesCsv, workers, ...grids }) =>
    Effect.gen(function*() {
      const sweep = yield* sweepOf(grids)
      const flags = { ...grids, fast: grids.fast.values[0]!, slow: grids.slow.values[0]! }
      if (sweep !== undefined) {
        for (const [flag, given] of [["--trades-csv", tradesCsv], ["--equity-csv", equityCsv]] as const) {
          if (Option.isSome(given)) {
            return yield* new ConfigurationError({ flag, value: given.value, reason: "a sweep (a grid from:to:step) writes no per-fill or per-candle file" })
          }
        }
        return yield* sweepProgram({
          ...tradingOptionsOf(flags),
          candles,
          strategy: flags.strategy,
          grid: sweep.grid,
          params: sweep.fixed,
          rankBy,
          ...(Option.isSome(workers) ? { workers: workers.value } : {}),
          strict,
          ...(Option.isSome(symbol) ? { symbol: symbol.value } : {}),
          ...(Option.isSome(interval) ? { interval: interval.value } : {}),
          lockstep: !chunked,
          capital,
          fill,
          ...(Option.isSome(reportJson) ? { reportJson: reportJson.value } : {}),
          ...(Option.isSome(report) ? { reportHtml: report.value } : {})
        })
      }
      const strategy = yield* resolveStrategy(strategyFlagsOf(flags))
      return yield* backtestProgram({
        ...tradingOptionsOf(flags),
        strategy,
        candles,
        strict,
        ...(Option.isSome(symbol) ? { symbol: symbol.value } : {}),
        ...(Option.isSome(interval) ? { interval: interval.value } : {}),
        lockstep: !chunked,
        capital,
        fill,
        ...(Option.isSome(reportJson) ? { reportJson: reportJson.value } : {}),
        ...(Option.isSome(tradesCsv) ? { tradesCsv: tradesCsv.value } : {}),
        ...(Option.isSome(equityCsv) ? { equityCsv: equityCsv.value } : {}),
        ...(Option.isSome(report) ? { reportHtml: report.value } : {})
      })
    }).pipe(
        Effect.catchTags({
          CandleFileError: (e) => Effect.fail(asConfigurationError(e)),
          // "grid.fast" is --fast, "rankBy" --rank-by
          SweepConfigError: (e) =>
            Effect.fail(fromConfigError({ _tag: e._tag, setting: e.setting.replace(/^grid\./, ""), value: e.value, reason: e.reason })!),
          // the flags are checked as they are parsed: this only names the flag of a library-side refusal
          BacktestConfigError: (e: BacktestConfigError) =>
            Effect.fail(new ConfigurationError({ flag: `--${e.setting}`, value: String(e.value), reason: e.reason }))
        }),
        Effect.provide(Logging.layer({ format: logFormat, level: logLevel }))
      )
).pipe(Command.withDescription(
  "Run a candle file through the trading engine (strategy, orders, paper fills, P&L) as fast as it goes, and report"
))
