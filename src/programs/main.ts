#!/usr/bin/env node
import { Command, Options, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as OtlpTracing from "../layers/observability/OtlpTracing.js"
import * as SimulatedExchange from "../layers/market/SimulatedExchange.js"
import { backtestCommand } from "./backtestCommand.js"
import { asConfigurationError } from "./ConfigurationError.js"
import { demo } from "./demo.js"
import { runEngine } from "./Engine.js"
import * as Logging from "./Logging.js"
import { dlqCommand } from "./dlq.js"
import { ordersCommand } from "./orders.js"
import { replayCommand } from "./replayCommand.js"
import { resolveRunConfig, runFlags } from "./RunOptions.js"

/** A command's handler with the logger its `--log-format` and `--log-level` ask for. */
const withLogging = <A, E, R>(
  flags: { readonly logFormat: Logging.LogFormat; readonly logLevel: Logging.LogLevelName },
  program: Effect.Effect<A, E, R>
) => Effect.provide(program, Logging.layer({ format: flags.logFormat, level: flags.logLevel }))

const runCommand = Command.make(
  "run",
  { ...runFlags, ...Logging.loggingFlags },
  ({ logFormat, logLevel, ...flags }) =>
    withLogging({ logFormat, logLevel }, Effect.flatMap(resolveRunConfig(flags), runEngine))
).pipe(Command.withDescription(
  "Run the trading engine: candles -> strategy -> signals -> orders -> paper fills -> positions and P&L"
))

const simulateCommand = Command.make(
  "simulate",
  {
    port: Options.integer("port").pipe(Options.withDefault(9443), Options.withDescription("Port to listen on")),
    host: Options.text("host").pipe(Options.withDefault("127.0.0.1"), Options.withDescription("Interface")),
    symbols: runFlags.symbols,
    interval: runFlags.interval,
    seed: runFlags.seed,
    speed: runFlags.speed,
    ...Logging.loggingFlags
  },
  ({ host, interval, logFormat, logLevel, port, seed, speed, symbols }) =>
    withLogging({ logFormat, logLevel }, Effect.gen(function*() {
      const exchange = yield* SimulatedExchange.SimulatedExchange
      yield* Console.log(
        `simulated exchange: ws ${exchange.wsUrl}/stream?streams=..., rest ${exchange.restUrl}/api/v3/klines (Ctrl-C to stop)`
      )
      return yield* Effect.never
    }).pipe(Effect.provide(SimulatedExchange.layer({
      host,
      port,
      interval,
      seed,
      speed,
      symbols: symbols.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
    }))))
).pipe(Command.withDescription("Serve a simulated exchange speaking Binance's kline WebSocket and REST protocol"))

const demoCommand = Command.make(
  "demo",
  {
    events: Options.integer("events").pipe(
      Options.withDefault(3000),
      Options.withDescription("How many candles to publish in the burst (signals and orders follow from them)")
    ),
    ...Logging.loggingFlags
  },
  ({ events, logFormat, logLevel }) => withLogging({ logFormat, logLevel }, demo({ events }))
).pipe(Command.withDescription("Publish a burst on all three queues, print the stats, and shut down cleanly"))

const cli = Command.make("trading-bus").pipe(
  Command.withDescription("The event-driven core of an automated crypto trading system"),
  Command.withSubcommands([runCommand, simulateCommand, demoCommand, ordersCommand, dlqCommand, backtestCommand, replayCommand])
)

const run = Command.run(cli, { name: "trading-bus", version: "0.1.0" })

// The first SIGINT is runMain's: it interrupts the program, which drains and reports. A second one exits at once.
let interrupts = 0
const onSignal = () => {
  if (++interrupts > 1) process.exit(130)
  process.stderr.write("trading-bus: stopping: the source stops first, then the bus drains (Ctrl-C again to exit at once)\n")
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

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
  Effect.provide(NodeContext.layer),
  // the commands install their own logger (--log-format, on stderr); runMain's would print some lines twice
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
