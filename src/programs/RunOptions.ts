import { Options } from "@effect/cli"
import { Config, Duration, Effect, Option } from "effect"
import { existsSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { defaultFilename as defaultJournal } from "../layers/journal/SqliteJournal.js"
import { ConfigurationError } from "./ConfigurationError.js"
import { parseDuration } from "./parseDuration.js"

/** The flags of `trading-bus run`, as @effect/cli parses them. */
export const runFlags = {
  source: Options.choice("source", ["sim", "binance"]).pipe(
    Options.withDefault("sim" as const),
    Options.withDescription("Where candles come from: the embedded simulator (offline) or Binance")
  ),
  symbols: Options.text("symbols").pipe(
    Options.withDefault("btcusdt,ethusdt"),
    Options.withDescription("Comma-separated symbols, such as btcusdt,ethusdt")
  ),
  interval: Options.text("interval").pipe(Options.withDefault("1m"), Options.withDescription("Kline interval")),
  strategy: Options.choice("strategy", ["sma", "none"]).pipe(
    Options.withDefault("sma" as const),
    Options.withDescription("sma: SMA crossover; none: data only")
  ),
  fast: Options.integer("fast").pipe(Options.withDefault(9), Options.withDescription("Fast SMA period")),
  slow: Options.integer("slow").pipe(Options.withDefault(21), Options.withDescription("Slow SMA period")),
  duration: Options.text("duration").pipe(
    Options.optional,
    Options.withDescription("Stop after this long (30s, 5m, 1h); without it, run until Ctrl-C")
  ),
  seed: Options.integer("seed").pipe(Options.withDefault(42), Options.withDescription("Simulator seed")),
  speed: Options.float("speed").pipe(
    Options.withDefault(10),
    Options.withDescription("Simulator speed: candles per second per symbol")
  ),
  wsUrl: Options.text("ws-url").pipe(
    Options.withDefault("wss://stream.binance.com:9443"),
    Options.withDescription("Binance WebSocket base URL (--source binance)")
  ),
  restUrl: Options.text("rest-url").pipe(
    Options.withDefault("https://api.binance.com"),
    Options.withDescription("Binance REST base URL (--source binance)")
  ),
  candleUpdates: Options.boolean("candle-updates").pipe(
    Options.withDescription("Also publish open klines as CandleUpdate events")
  ),
  quoteAmount: Options.text("quote-amount").pipe(
    Options.withDefault("100"),
    Options.withDescription("Notional of one order, in the quote asset")
  ),
  maxPositionNotional: Options.text("max-position-notional").pipe(
    Options.withDefault("1000"),
    Options.withDescription("Largest position notional per symbol")
  ),
  maxOpenOrders: Options.integer("max-open-orders").pipe(
    Options.withDefault(5),
    Options.withDescription("Most orders in flight at once")
  ),
  feeBps: Options.float("fee-bps").pipe(Options.withDefault(10), Options.withDescription("Paper broker fee, bps")),
  slippageBps: Options.float("slippage-bps").pipe(
    Options.withDefault(5),
    Options.withDescription("Paper broker slippage, bps")
  ),
  brokerLatency: Options.text("broker-latency").pipe(
    Options.withDefault("0ms"),
    Options.withDescription("Paper broker: simulated execution time per order")
  ),
  statusInterval: Options.text("status-interval").pipe(
    Options.withDefault("5s"),
    Options.withDescription("How often to print the status line")
  ),
  summaryJson: Options.text("summary-json").pipe(
    Options.optional,
    Options.withDescription("Write the final summary as JSON to this file")
  ),
  metricsPort: Options.integer("metrics-port").pipe(
    Options.withFallbackConfig(Config.integer("TRADING_BUS_METRICS_PORT").pipe(Config.withDefault(9464))),
    Options.withDescription(
      "Port of GET /metrics (Prometheus), /health/live and /health/ready (env TRADING_BUS_METRICS_PORT); 0 disables"
    )
  ),
  metricsHost: Options.text("metrics-host").pipe(
    Options.withFallbackConfig(Config.string("TRADING_BUS_METRICS_HOST").pipe(Config.withDefault("127.0.0.1"))),
    Options.withDescription("Address the metrics server binds (env TRADING_BUS_METRICS_HOST)")
  ),
  dashboard: Options.boolean("dashboard").pipe(
    Options.withDescription(
      "A live view redrawn every 500 ms instead of the status line: queues, events/s, collector, positions, P&L, last signals and errors (needs a terminal)"
    )
  ),
  journal: Options.text("journal").pipe(
    Options.withFallbackConfig(Config.string("TRADING_BUS_JOURNAL").pipe(Config.withDefault(defaultJournal))),
    Options.withDescription(
      `The order journal, a SQLite file (env TRADING_BUS_JOURNAL, default ${defaultJournal}): orders a crash interrupted are recovered from it at the next start; :memory: keeps it in memory only`
    )
  ),
  report: Options.text("report").pipe(
    Options.optional,
    Options.withDescription(
      "At the end of the run, write a self-contained HTML report to this file: equity curve, queue depths and events/s over time, the summary (opens offline)"
    )
  ),
  record: Options.boolean("record").pipe(
    Options.withFallbackConfig(Config.boolean("TRADING_BUS_RECORD").pipe(Config.withDefault(false))),
    Options.withDescription(
      "Record every event of every queue (candles, signals, orders, errors) in the journal, an event log for trading-bus backtest --candles and trading-bus replay; only orders are recovered at start (env TRADING_BUS_RECORD)"
    )
  )
}

type Parsed<T> = { readonly [K in keyof T]: T[K] extends Options.Options<infer A> ? A : never }
export type RunFlags = Parsed<typeof runFlags>

/** `trading-bus run`'s settings, checked. */
export interface RunConfig extends
  Omit<
    RunFlags,
    | "symbols"
    | "duration"
    | "statusInterval"
    | "brokerLatency"
    | "summaryJson"
    | "wsUrl"
    | "restUrl"
    | "journal"
    | "dashboard"
    | "record"
    | "report"
  >
{
  readonly symbols: ReadonlyArray<string>
  readonly duration: Option.Option<Duration.Duration>
  readonly statusInterval: Duration.Duration
  readonly brokerLatency: Duration.Duration
  readonly summaryJson: Option.Option<string>
  readonly wsUrl: string
  readonly restUrl: string
  /** The journal file (or ":memory:"); without one, nothing is journaled or recovered. */
  readonly journal?: string
  /** `--dashboard`: the live view when stdout is a terminal, the status line (and a note) otherwise. */
  readonly dashboard?: boolean
  /** `--record`: the journal also records the data and signal queues' events (absent: false). */
  readonly record?: boolean
  /** `--report`: the HTML report's file, written at the end of the run. */
  readonly report?: string
}

const invalid = (flag: string, value: unknown, reason: string) =>
  Effect.fail(new ConfigurationError({ flag, value, reason }))

const positiveDuration = (flag: string, text: string) => {
  const d = parseDuration(text)
  return Option.isSome(d) && Duration.greaterThan(d.value, Duration.zero) && Duration.isFinite(d.value)
    ? Effect.succeed(d.value)
    : invalid(flag, text, "expected a positive duration such as 30s, 500ms, 5m or \"30 seconds\"")
}

const nonNegativeDuration = (flag: string, text: string) => {
  const d = parseDuration(text)
  return Option.isSome(d) && Duration.isFinite(d.value)
    ? Effect.succeed(d.value)
    : invalid(flag, text, "expected a duration such as 0ms, 250ms or 2s")
}

/** Checks what the layers cannot check for themselves; the layers check the rest and name their flag. */
export const resolveRunConfig = (flags: RunFlags): Effect.Effect<RunConfig, ConfigurationError> =>
  Effect.gen(function*() {
    const symbols = flags.symbols.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0)
    if (symbols.length === 0 || symbols.some((s) => !/^[a-z0-9]{2,20}$/.test(s))) {
      return yield* invalid("--symbols", flags.symbols, "expected comma-separated symbols such as btcusdt,ethusdt")
    }
    const duration = Option.isSome(flags.duration)
      ? Option.some(yield* positiveDuration("--duration", flags.duration.value))
      : Option.none()
    if (flags.journal.trim() === "") {
      return yield* invalid("--journal", flags.journal, "expected a file path, or :memory:")
    }
    if (Option.isSome(flags.report) && !existsSync(dirname(resolve(flags.report.value)))) {
      return yield* invalid("--report", flags.report.value, "its folder does not exist: create it, or give another path")
    }
    if (!(Number.isSafeInteger(flags.metricsPort) && flags.metricsPort >= 0 && flags.metricsPort <= 65535)) {
      return yield* invalid("--metrics-port", flags.metricsPort, "expected a port from 1 to 65535, or 0 to disable")
    }
    if (!(flags.speed > 0 && Number.isFinite(flags.speed))) {
      return yield* invalid("--speed", flags.speed, "expected a positive number of candles per second")
    }
    const { report, ...rest } = flags
    return {
      ...rest,
      symbols: [...new Set(symbols)],
      duration,
      statusInterval: yield* positiveDuration("--status-interval", flags.statusInterval),
      brokerLatency: yield* nonNegativeDuration("--broker-latency", flags.brokerLatency),
      summaryJson: flags.summaryJson,
      wsUrl: flags.wsUrl,
      restUrl: flags.restUrl,
      journal: flags.journal,
      record: flags.record,
      ...(Option.isSome(report) ? { report: report.value } : {})
    }
  })
