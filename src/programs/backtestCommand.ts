import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { CandleFileError } from "../layers/market/CandleFile.js"
import { backtest, configOf } from "./Backtest.js"
import { ConfigurationError } from "./ConfigurationError.js"
import * as Logging from "./Logging.js"
import { runFlags } from "./RunOptions.js"

/** The engine settings a backtest and a replay take: `run`'s strategy, sizing and paper-broker flags. */
export const tradingFlags = {
  strategy: runFlags.strategy,
  fast: runFlags.fast,
  slow: runFlags.slow,
  quoteAmount: runFlags.quoteAmount,
  maxPositionNotional: runFlags.maxPositionNotional,
  maxOpenOrders: runFlags.maxOpenOrders,
  feeBps: runFlags.feeBps,
  slippageBps: runFlags.slippageBps
}

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
  ...tradingFlags
}

const asConfigurationError = (e: CandleFileError) =>
  new ConfigurationError({ flag: `--${e.option}`, value: e.path, reason: e.message })

export const backtestCommand = Command.make(
  "backtest",
  { ...backtestFlags, ...Logging.loggingFlags },
  ({ candles, chunked, interval, logFormat, logLevel, report, reportJson, strict, symbol, ...flags }) =>
    backtest({
      config: configOf(flags, Option.getOrElse(symbol, () => "file"), Option.getOrElse(interval, () => "1m")),
      file: {
        path: candles,
        strict,
        ...(Option.isSome(symbol) ? { symbol: symbol.value } : {}),
        ...(Option.isSome(interval) ? { interval: interval.value } : {})
      },
      lockstep: !chunked,
      ...(Option.isSome(reportJson) ? { reportJson: reportJson.value } : {}),
      ...(Option.isSome(report) ? { reportHtml: report.value } : {})
    }).pipe(
      Effect.catchTag("CandleFileError", (e) => Effect.fail(asConfigurationError(e))),
      Effect.provide(Logging.layer({ format: logFormat, level: logLevel }))
    )
).pipe(Command.withDescription(
  "Run a candle file through the trading engine (strategy, orders, paper fills, P&L) as fast as it goes, and report"
))
