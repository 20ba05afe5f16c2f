import { Options } from "@effect/cli"
import { Config, Layer, Logger, LogLevel } from "effect"

export const logFormats = ["pretty", "json"] as const
export type LogFormat = typeof logFormats[number]

export const logLevels = ["trace", "debug", "info", "warning", "error", "none"] as const
export type LogLevelName = typeof logLevels[number]

const levels: Record<LogLevelName, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None
}

export const toLogLevel = (name: LogLevelName): LogLevel.LogLevel => levels[name]

export interface LoggingSettings {
  readonly format: LogFormat
  readonly level: LogLevelName
  /** Write to stderr (the default: stdout keeps the status line, the dashboard and the summary) or stdout. */
  readonly stream?: "stderr" | "stdout"
  /** ANSI colors in the pretty format; by default when stderr is a terminal and NO_COLOR is unset. */
  readonly colors?: boolean
}

const colorsByDefault = () =>
  typeof process === "object" && process.stderr?.isTTY === true && (process.env.NO_COLOR ?? "") === ""

/**
 * The logger for these settings. `json` writes one JSON object per line:
 * `message`, `logLevel`, `timestamp`, `cause`, `annotations` (the bus puts
 * `queue`, `handler`, `eventType` and `eventId` there), `spans`, `fiberId`.
 */
export const makeLogger = (settings: LoggingSettings): Logger.Logger<unknown, void> => {
  const stderr = (settings.stream ?? "stderr") === "stderr"
  if (settings.format === "json") {
    return stderr ? Logger.withConsoleError(Logger.jsonLogger) : Logger.withConsoleLog(Logger.jsonLogger)
  }
  return Logger.prettyLogger({ colors: settings.colors ?? colorsByDefault(), stderr, mode: "tty" })
}

/** Replaces Effect's default logger with the chosen format, and filters below the chosen level. */
export const layer = (settings: LoggingSettings): Layer.Layer<never> =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, makeLogger(settings)),
    Logger.minimumLogLevel(toLogLevel(settings.level))
  )

/** `--log-format` and `--log-level`, shared by the commands (env TRADING_BUS_LOG_FORMAT, TRADING_BUS_LOG_LEVEL). */
export const loggingFlags = {
  logFormat: Options.choice("log-format", logFormats).pipe(
    Options.withFallbackConfig(
      Config.literal(...logFormats)("TRADING_BUS_LOG_FORMAT").pipe(Config.withDefault("pretty" as const))
    ),
    Options.withDescription("Logs to stderr as pretty text or JSON lines (env TRADING_BUS_LOG_FORMAT)")
  ),
  logLevel: Options.choice("log-level", logLevels).pipe(
    Options.withFallbackConfig(
      Config.literal(...logLevels)("TRADING_BUS_LOG_LEVEL").pipe(Config.withDefault("info" as const))
    ),
    Options.withDescription("The lowest level logged (env TRADING_BUS_LOG_LEVEL)")
  )
}
