import { Command, Options } from "@effect/cli"
import { Duration, Effect, Option } from "effect"
import { CandleFileError } from "../layers/CandleFile.js"
import { backtest } from "./Backtest.js"
import { ConfigurationError } from "./ConfigurationError.js"
import * as Logging from "./Logging.js"
import { type RunConfig, runFlags } from "./RunOptions.js"

const backtestFlags = {
  candles: Options.text("candles").pipe(
    Options.withDescription(
      "The candle file: Binance's 12-column kline CSV (with or without a header) or a JSON array of [time,o,h,l,c,v]"
    )
  ),
  symbol: Options.text("symbol").pipe(
    Options.optional,
    Options.withDescription("The candles' symbol (default: the file name's prefix, such as ADABTC in ADABTC-1m-2021-11-27.csv)")
  ),
  interval: Options.text("interval").pipe(
    Options.optional,
    Options.withDescription("The candles' interval (default: from the file name, such as 1m, else the rows' spacing)")
  ),
  strategy: runFlags.strategy,
  fast: runFlags.fast,
  slow: runFlags.slow,
  strict: Options.boolean("strict").pipe(
    Options.withDescription("Stop at the first malformed row (by default it is logged with its line and skipped)")
  ),
  chunked: Options.boolean("chunked").pipe(
    Options.withDescription(
      "Publish candles in chunks as fast as the data queue takes them, instead of one at a time once the pipeline is idle (results may then depend on timing)"
    )
  ),
  reportJson: Options.text("report-json").pipe(
    Options.optional,
    Options.withDescription("Write the report as JSON to this file")
  ),
  quoteAmount: runFlags.quoteAmount,
  maxPositionNotional: runFlags.maxPositionNotional,
  maxOpenOrders: runFlags.maxOpenOrders,
  feeBps: runFlags.feeBps,
  slippageBps: runFlags.slippageBps
}

/** A backtest's engine settings: those of `run`, with the flags given; the source settings are unused. */
const configOf = (flags: {
  readonly strategy: RunConfig["strategy"]
  readonly fast: number
  readonly slow: number
  readonly quoteAmount: string
  readonly maxPositionNotional: string
  readonly maxOpenOrders: number
  readonly feeBps: number
  readonly slippageBps: number
}, symbol: string, interval: string): RunConfig => ({
  ...flags,
  source: "sim",
  symbols: [symbol.toLowerCase()],
  interval,
  duration: Option.none(),
  seed: 0,
  speed: 1,
  wsUrl: "",
  restUrl: "",
  candleUpdates: false,
  statusInterval: Duration.hours(1),
  brokerLatency: Duration.zero,
  summaryJson: Option.none(),
  metricsPort: 0,
  metricsHost: "127.0.0.1"
})

const asConfigurationError = (e: CandleFileError) =>
  new ConfigurationError({ flag: `--${e.option}`, value: e.path, reason: e.message })

export const backtestCommand = Command.make(
  "backtest",
  { ...backtestFlags, ...Logging.loggingFlags },
  ({ candles, chunked, interval, logFormat, logLevel, reportJson, strict, symbol, ...flags }) =>
    backtest({
      config: configOf(flags, Option.getOrElse(symbol, () => "file"), Option.getOrElse(interval, () => "1m")),
      file: {
        path: candles,
        strict,
        ...(Option.isSome(symbol) ? { symbol: symbol.value } : {}),
        ...(Option.isSome(interval) ? { interval: interval.value } : {})
      },
      lockstep: !chunked,
      ...(Option.isSome(reportJson) ? { reportJson: reportJson.value } : {})
    }).pipe(
      Effect.catchTag("CandleFileError", (e) => Effect.fail(asConfigurationError(e))),
      Effect.provide(Logging.layer({ format: logFormat, level: logLevel }))
    )
).pipe(Command.withDescription(
  "Run a candle file through the trading engine (strategy, orders, paper fills, P&L) as fast as it goes, and report"
))
