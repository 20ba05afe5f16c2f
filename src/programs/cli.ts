import { CliConfig, Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Option } from "effect"
import * as OtlpTracing from "../layers/observability/OtlpTracing.js"
import { backtestCommand } from "./backtestCommand.js"
import { asConfigurationError } from "./ConfigurationError.js"
import { demo } from "./demo.js"
import * as Logging from "./Logging.js"
import { dlqCommand } from "./dlq.js"
import * as Flag from "./internal/Flags.js"
import { ordersCommand } from "./orders.js"
import { replayCommand } from "./replayCommand.js"
import { runProgram } from "./runCommand.js"
import { resolveRunConfig, runFlags } from "./RunOptions.js"
import { simulateCommand } from "./simulateCommand.js"

/** A command's handler with the logger its `--log-format` and `--log-level` ask for. */
const withLogging = <A, E, R>(
  flags: {
    readonly logFormat: Logging.LogFormat
    readonly logLevel: Logging.LogLevelName
    readonly logFile?: Option.Option<string>
  },
  program: Effect.Effect<A, E, R>
) =>
  Effect.provide(
    program,
    Logging.layer({
      format: flags.logFormat,
      level: flags.logLevel,
      ...(flags.logFile !== undefined && Option.isSome(flags.logFile) ? { file: flags.logFile.value } : {})
    })
  )

const runCommand = Command.make(
  "run",
  { ...runFlags, ...Logging.loggingFlags, logFile: Logging.logFileFlag },
  ({ logFile, logFormat, logLevel, ...flags }) =>
    withLogging({ logFormat, logLevel, logFile }, Effect.flatMap(resolveRunConfig(flags), (config) => runProgram(config)))
).pipe(Command.withDescription(
  "Run the trading engine: candles -> strategy -> signals -> orders -> fills (paper, or Binance with --broker binance) -> positions and P&L"
))

const demoCommand = Command.make(
  "demo",
  {
    events: Flag.withDefault(
      Flag.integer("events", { min: 1, max: 1_000_000 }, "How many candles to publish in the burst (signals and orders follow from them)"),
      3000
    ),
    ...Logging.loggingFlags
  },
  ({ events, logFormat, logLevel }) => withLogging({ logFormat, logLevel }, demo({ events }))
).pipe(Command.withDescription("Publish a burst on all three queues, print the stats, and shut down cleanly"))

const cli = Command.make("trading-bus").pipe(
  Command.withDescription(
    "The event-driven core of an automated crypto trading system. Every command takes --help (its flags, their ranges and defaults); trading-bus --version prints the version, trading-bus --completions sh|bash|fish|zsh a completion script"
  ),
  Command.withSubcommands([runCommand, simulateCommand, demoCommand, ordersCommand, dlqCommand, backtestCommand, replayCommand])
)

const run = Command.run(cli, { name: "trading-bus", version: "0.1.0" })

// The first SIGINT or SIGTERM is runMain's: it interrupts the program, which drains and reports. While it stops,
// a SIGINT (Ctrl-C again) exits at once with 130; another SIGTERM changes nothing (a supervisor repeating its
// request must not cost the summary): the drain is bounded by TRADING_BUS_DRAIN_TIMEOUT anyway.
// One Ctrl-C under `npm start` arrives twice within milliseconds (the terminal's, to the process group, and the one
// npm forwards): a SIGINT that close to the first is the same keypress.
let stoppingSince: number | undefined
const onSignal = (signal: "SIGINT" | "SIGTERM") => () => {
  if (stoppingSince !== undefined) {
    if (signal === "SIGINT" && Date.now() - stoppingSince > 500) process.exit(130)
    return
  }
  stoppingSince = Date.now()
  process.stderr.write("trading-bus: stopping: the source stops first, then the bus drains (Ctrl-C again to exit at once)\n")
}
process.on("SIGINT", onSignal("SIGINT"))
process.on("SIGTERM", onSignal("SIGTERM"))

/** Exit code 2, with a message naming the flag, for anything the user must fix in the command line. */
const exitOnConfigurationError = <A, R>(program: Effect.Effect<A, unknown, R>) =>
  Effect.catchAll(program, (error) => {
    if (ValidationError.isValidationError(error)) {
      // @effect/cli has printed what is wrong already
      return Effect.sync(() => {
        process.exitCode = 2
      })
    }
    const configuration = asConfigurationError(error)
    if (configuration === undefined) return Effect.fail(error)
    return Console.error(`trading-bus: ${configuration.message}`).pipe(
      Effect.zipRight(Effect.sync(() => {
        process.exitCode = 2
      }))
    )
  })

run(process.argv).pipe(
  // spans go out over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; the layer closes after the command, sending the last
  Effect.provide(OtlpTracing.layerFromEnv),
  exitOnConfigurationError,
  // @effect/cli's own --log-level would show beside ours in every --help: its built-ins stay, unlisted
  Effect.provide(Layer.merge(NodeContext.layer, CliConfig.layer({ showBuiltIns: false }))),
  // the commands install their own logger (--log-format, on stderr); runMain's would print some lines twice
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
