import { Console, Context, DefaultServices, Effect, FiberId, FiberRefs, Layer, Logger, LogLevel, type Scope } from "effect"
import { closeSync, openSync, writeSync } from "node:fs"
import { format } from "node:util"
import { ConfigurationError } from "./ConfigurationError.js"
import * as Flag from "./internal/Flags.js"

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

/**
 * Where log lines go while something else draws on the terminal: the
 * dashboard diverts them to its panel, so that no line is drawn over it.
 */
export class LogOutput extends Context.Tag("trading-bus/LogOutput")<LogOutput, {
  /** Until the scope closes, each line meant for the terminal goes to `sink` instead (a `--log-file` still gets it). */
  readonly divert: (sink: (text: string) => void) => Effect.Effect<void, never, Scope.Scope>
  /** Whether the lines go to a `--log-file` (then nothing diverted is lost). */
  readonly toFile: boolean
}>() {}

interface Route {
  sink: ((text: string) => void) | undefined
  readonly fd: number | undefined
}

/**
 * The loggers write through the Console service; to catch a line as text,
 * the logger runs with a Console that collects it (Effect's pretty logger
 * indents with `group`, which is kept).
 */
const captured = (inner: Logger.Logger<unknown, void>, options: Logger.Logger.Options<unknown>): string => {
  const lines: Array<string> = []
  let depth = 0
  const services = FiberRefs.getOrDefault(options.context, DefaultServices.currentServices)
  const current = Context.get(services, Console.Console)
  const write = (...args: ReadonlyArray<unknown>) => {
    lines.push(`${"  ".repeat(depth)}${format(...args)}`)
  }
  const console: Console.Console = {
    ...current,
    unsafe: {
      ...current.unsafe,
      log: write,
      error: write,
      group: () => void depth++,
      groupEnd: () => void (depth = Math.max(0, depth - 1))
    }
  }
  inner.log({
    ...options,
    context: FiberRefs.updateAs(options.context, {
      // the copy is this log call's alone: which fiber "wrote" it does not matter
      fiberId: FiberId.none,
      fiberRef: DefaultServices.currentServices,
      value: Context.add(services, Console.Console, console)
    })
  })
  return lines.join("\n")
}

const routed = (inner: Logger.Logger<unknown, void>, route: Route): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    if (route.fd === undefined && route.sink === undefined) return inner.log(options)
    const text = captured(inner, options)
    if (route.fd !== undefined) writeSync(route.fd, `${text}\n`)
    route.sink?.(text)
  })

const openLogFile = (file: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => openSync(file, "a"),
      catch: (cause) =>
        new ConfigurationError({
          flag: "--log-file",
          value: file,
          reason: `cannot append to it (${cause instanceof Error ? cause.message : String(cause)})`
        })
    }),
    (fd) => Effect.sync(() => closeSync(fd))
  )

/**
 * Replaces Effect's default logger with the chosen format, and filters below
 * the chosen level; with `file`, the lines are appended to it instead of
 * going to the terminal. Provides `LogOutput`.
 */
export const layer = (settings: LoggingSettings & { readonly file?: string }): Layer.Layer<LogOutput, ConfigurationError> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const fd = settings.file === undefined ? undefined : yield* openLogFile(settings.file)
    const route: Route = { sink: undefined, fd }
    // a file gets no colors, whatever the terminal
    const logger = makeLogger(fd === undefined ? settings : { ...settings, colors: false })
    const output = LogOutput.of({
      toFile: fd !== undefined,
      divert: (sink) =>
        Effect.acquireRelease(Effect.sync(() => void (route.sink = sink)), () => Effect.sync(() => void (route.sink = undefined)))
    })
    return Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, routed(logger, route)),
      Logger.minimumLogLevel(toLogLevel(settings.level)),
      Layer.succeed(LogOutput, output)
    )
  }))

/** `--log-file`: `trading-bus run`'s logs in a file rather than on stderr. */
export const logFileFlag = Flag.optional(
  Flag.text(
    "log-file",
    "a file path",
    "Append the logs to this file instead of writing them to stderr; without it, while --dashboard draws, the last log lines show in its panel and the rest are printed after it",
    { env: "TRADING_BUS_LOG_FILE" }
  )
)

/** `--log-format` and `--log-level`, shared by the commands (env TRADING_BUS_LOG_FORMAT, TRADING_BUS_LOG_LEVEL). */
export const loggingFlags = {
  logFormat: Flag.withDefault(
    Flag.choice("log-format", logFormats, "Logs to stderr as pretty text or JSON lines", "TRADING_BUS_LOG_FORMAT"),
    "pretty"
  ),
  logLevel: Flag.withDefault(
    Flag.choice("log-level", logLevels, "The lowest level logged", "TRADING_BUS_LOG_LEVEL"),
    "info"
  )
}
