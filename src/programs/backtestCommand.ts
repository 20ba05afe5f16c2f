import { Command, Options } from "@effect/cli"
import { Effect, HashMap, Option } from "effect"
import type { TradingOptions } from "../layers/engine/Trading.js"
import type { CandleFileError } from "../layers/market/CandleFile.js"
import type { BacktestConfigError } from "../layers/engine/Backtest.js"
import { fillModels } from "../layers/engine/BacktestFills.js"
import { backtestProgram } from "./BacktestOutput.js"
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
  ...tradingFlags
}

const asConfigurationError = (e: CandleFileError) =>
  new ConfigurationError({ flag: `--${e.option}`, value: e.path, reason: e.message })

export const backtestCommand = Command.make(
  "backtest",
  { ...backtestFlags, ...Logging.loggingFlags },
  ({ candles, capital, chunked, equityCsv, fill, interval, logFormat, logLevel, report, reportJson, strict, symbol, tradesCsv, ...flags }) =>
    Effect.flatMap(resolveStrategy(strategyFlagsOf(flags)), (strategy) =>
      backtestProgram({
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
      })).pipe(
        Effect.catchTags({
          CandleFileError: (e) => Effect.fail(asConfigurationError(e)),
          // the flags are checked as they are parsed: this only names the flag of a library-side refusal
          BacktestConfigError: (e: BacktestConfigError) =>
            Effect.fail(new ConfigurationError({ flag: `--${e.setting}`, value: String(e.value), reason: e.reason }))
        }),
        Effect.provide(Logging.layer({ format: logFormat, level: logLevel }))
      )
).pipe(Command.withDescription(
  "Run a candle file through the trading engine (strategy, orders, paper fills, P&L) as fast as it goes, and report"
))
