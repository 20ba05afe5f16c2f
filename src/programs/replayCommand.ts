import { Command, Options } from "@effect/cli"
import { Config, Effect, Option } from "effect"
import { defaultFilename as defaultJournal } from "../layers/journal/SqliteJournal.js"
import { reportFlags, seriesFlags, tradingFlags } from "./backtestCommand.js"
import { ConfigurationError } from "./ConfigurationError.js"
import * as Logging from "./Logging.js"
import { replay } from "./Replay.js"

const replayFlags = {
  journal: Options.text("journal").pipe(
    Options.withFallbackConfig(Config.string("TRADING_BUS_JOURNAL").pipe(Config.withDefault(defaultJournal))),
    Options.withDescription(
      `The event log to replay: a journal recorded by trading-bus run --record (env TRADING_BUS_JOURNAL, default ${defaultJournal}); it is only read`
    )
  ),
  ...seriesFlags({
    symbol: "The recorded symbol to replay (needed when the log holds several)",
    interval: "The recorded interval to replay (needed when the log holds several for the symbol)"
  }),
  strict: Options.boolean("strict").pipe(
    Options.withDescription("Stop at the first recorded candle out of order (by default it is logged and skipped)")
  ),
  ...reportFlags,
  ...tradingFlags
}

/** The candle reader's setting, as this command's flag: the file is `--journal`. */
const asConfigurationError = (e: { readonly option: "candles" | "symbol" | "interval"; readonly path: string; readonly message: string }) =>
  new ConfigurationError({ flag: e.option === "candles" ? "--journal" : `--${e.option}`, value: e.path, reason: e.message })

/** `trading-bus replay --journal F [--symbol S] [--interval I] [strategy flags] [--report-json F] [--report F.html]`. */
export const replayCommand = Command.make(
  "replay",
  { ...replayFlags, ...Logging.loggingFlags },
  ({ interval, journal, logFormat, logLevel, report, reportJson, strict, symbol, ...flags }) =>
    replay({
      journal,
      flags,
      strict,
      ...(Option.isSome(symbol) ? { symbol: symbol.value } : {}),
      ...(Option.isSome(interval) ? { interval: interval.value } : {}),
      ...(Option.isSome(reportJson) ? { reportJson: reportJson.value } : {}),
      ...(Option.isSome(report) ? { reportHtml: report.value } : {})
    }).pipe(
      Effect.catchTags({
        CandleFileError: (e) => Effect.fail(asConfigurationError(e)),
        JournalCandlesError: (e) => Effect.fail(asConfigurationError(e))
      }),
      Effect.provide(Logging.layer({ format: logFormat, level: logLevel }))
    )
).pipe(Command.withDescription(
  "Replay a recorded event log (trading-bus run --record) through the engine as a backtest, and compare its signals with the recorded ones"
))
