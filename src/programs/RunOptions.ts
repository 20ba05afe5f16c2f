import { Options } from "@effect/cli"
import { Config, Duration, Effect, Option } from "effect"
import { existsSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { defaultFilename as defaultJournal } from "../layers/journal/SqliteJournal.js"
import type { EngineBroker } from "../layers/engine/BrokerChoice.js"
import { resolveVenue, venueFlags } from "./BrokerOptions.js"
import { ConfigurationError } from "./ConfigurationError.js"
import * as Flag from "./internal/Flags.js"
import { parseDuration } from "./parseDuration.js"

/** The flags of `trading-bus run`, as @effect/cli parses them. */
export const runFlags = {
  // --source, --broker, --testnet, --live, the Binance URLs and --recv-window
  ...venueFlags,
  symbols: Options.text("symbols").pipe(
    Options.withDefault("btcusdt,ethusdt"),
    Options.withDescription("Comma-separated symbols, such as btcusdt,ethusdt (default btcusdt,ethusdt)")
  ),
  interval: Options.text("interval").pipe(Options.withDefault("1m"), Options.withDescription("Kline interval: 1s, 1m, 3m, 5m, 15m, 30m, 1h, ... (default 1m)")),
  strategy: Options.text("strategy").pipe(
    Options.withDefault("sma"),
    Options.withDescription(
      "sma: SMA crossover; none: data only; or a module path (./my-strategy.js, .ts through tsx) whose default export is a Layer<Strategy> or a function from the --param pairs to one (default sma)"
    )
  ),
  param: Options.keyValueMap("param").pipe(
    Options.optional,
    Options.withDescription("A key=value setting for a --strategy module (repeatable)")
  ),
  allowShort: Options.boolean("allow-short").pipe(
    Options.withDescription("Let a SELL signal open a short position (paper only); by default the engine is long-only")
  ),
  fast: Flag.withDefault(Flag.integer("fast", { min: 1, max: 1000 }, "Fast SMA period, below --slow"), 9),
  slow: Flag.withDefault(Flag.integer("slow", { min: 2, max: 1000 }, "Slow SMA period"), 21),
  // Effect's timers cannot wait past 2^31 - 1 ms (24.8 days)
  duration: Flag.optional(
    Flag.duration("duration", { min: "1 millis", max: "24 days", shown: "from 1ms to 24d" }, "Stop after this long; without it, run until Ctrl-C")
  ),
  seed: Flag.withDefault(Flag.integer("seed", { min: 0, max: 4_294_967_295 }, "Simulator seed: same seed, same candles"), 42),
  speed: Flag.withDefault(
    Flag.number("speed", { min: 0.01, max: 10_000 }, "Simulator speed: candles per second per symbol"),
    10
  ),
  candleUpdates: Options.boolean("candle-updates").pipe(
    Options.withDescription("Also publish open klines as CandleUpdate events")
  ),
  quoteAmount: Flag.withDefault(
    Flag.positiveDecimal("quote-amount", "1000000000", "Notional of one order, in the quote asset"),
    "100"
  ),
  maxPositionNotional: Flag.withDefault(
    Flag.positiveDecimal("max-position-notional", "1000000000", "Largest position notional per symbol"),
    "1000"
  ),
  maxOpenOrders: Flag.withDefault(Flag.integer("max-open-orders", { min: 1, max: 1000 }, "Most orders in flight at once"), 5),
  // 1000 bps is 10% of each fill: past that a paper result means nothing
  feeBps: Flag.withDefault(Flag.number("fee-bps", { min: 0, max: 1000 }, "Paper broker fee, in basis points"), 10),
  slippageBps: Flag.withDefault(Flag.number("slippage-bps", { min: 0, max: 1000 }, "Paper broker slippage, in basis points"), 5),
  brokerLatency: Flag.withDefault(
    Flag.duration("broker-latency", { min: "0 millis", max: "1 minute", shown: "from 0ms to 1m" }, "Paper broker: simulated execution time per order"),
    "0ms"
  ),
  statusInterval: Flag.withDefault(
    Flag.duration("status-interval", { min: "100 millis", max: "1 hour", shown: "from 100ms to 1h" }, "How often to print the status line"),
    "5s"
  ),
  summaryJson: Options.text("summary-json").pipe(
    Options.optional,
    Options.withDescription("Write the final summary as JSON to this file")
  ),
  metricsPort: Flag.withDefault(
    Flag.integer(
      "metrics-port",
      { min: 0, max: 65535 },
      "Port of GET /metrics (Prometheus), /health/live and /health/ready; 0 disables them",
      "TRADING_BUS_METRICS_PORT"
    ),
    9464
  ),
  metricsHost: Flag.withDefault(
    Flag.text("metrics-host", "an address of this machine", "Address the metrics server binds", {
      env: "TRADING_BUS_METRICS_HOST"
    }),
    "127.0.0.1"
  ),
  bus: Options.text("bus").pipe(
    Options.withDefault("memory"),
    Options.withDescription(
      "The bus: memory (in this process, the default) or a Redis URL such as redis://127.0.0.1:6379, shared by a collector and engine processes (see --role)"
    )
  ),
  role: Flag.withDefault(
    Flag.choice("role", ["collector", "engine", "all"], "With a Redis --bus: collector (publishes candles), engine (trades the partitions it owns) or all"),
    "all"
  ),
  partitions: Flag.withDefault(
    Flag.integer("partitions", { min: 1, max: 1024 }, "With a Redis --bus: partitions per queue (a symbol's events share one), the same in every process"),
    1
  ),
  web: Options.boolean("web").pipe(
    Options.withDescription(
      "A live web view at the metrics server's address (http://127.0.0.1:9464/ by default): queues, collector, breaker, positions and P&L, equity, the price with the engine's buys and sells, the latest signals, orders and errors"
    )
  ),
  dashboard: Options.boolean("dashboard").pipe(
    Options.withDescription(
      "A live view redrawn every 500 ms instead of the status line: queues, events/s, collector, positions, P&L, last signals and errors (needs a terminal)"
    )
  ),
  journal: Flag.withDefault(
    Flag.text(
      "journal",
      "a file path, or :memory:",
      "The order journal, a SQLite file: orders a crash interrupted are recovered from it at the next start; :memory: keeps it in memory only",
      { env: "TRADING_BUS_JOURNAL" }
    ),
    defaultJournal
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
    | "source"
    | "broker"
    | "testnet"
    | "live"
    | "wsApiUrl"
    | "recvWindow"
    | "symbols"
    | "duration"
    | "statusInterval"
    | "brokerLatency"
    | "summaryJson"
    | "wsUrl"
    | "restUrl"
    | "journal"
    | "dashboard"
    | "web"
    | "bus"
    | "role"
    | "partitions"
    | "record"
    | "report"
    | "param"
    | "allowShort"
  >
{
  /** `--param key=value` pairs, for a `--strategy` module. */
  readonly params?: Readonly<Record<string, string>>
  /** Where candles come from, resolved from `--source`, `--broker` and `--testnet` (`BrokerOptions`). */
  readonly source: "sim" | "binance"
  /** Who executes orders (absent: the paper broker). */
  readonly broker?: EngineBroker
  /** `--allow-short`: a SELL may open a short (paper only). */
  readonly allowShort?: boolean
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
  /** `--bus redis://...` with `--role` and `--partitions` (absent: the bus in this process). */
  readonly redis?: { readonly url: string; readonly role: "collector" | "engine" | "all"; readonly partitions: number }
  /** `--web`: the live web view on the metrics server (absent: off). */
  readonly web?: boolean
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
    const redis = flags.bus === "memory" ? undefined : { url: flags.bus, role: flags.role, partitions: flags.partitions }
    if (redis !== undefined && !/^rediss?:\/\/[^\s/]+/.test(redis.url)) {
      return yield* invalid("--bus", flags.bus, "expected memory, or a Redis URL such as redis://127.0.0.1:6379")
    }
    if (redis === undefined && flags.role !== "all") {
      return yield* invalid("--role", flags.role, "a role needs a Redis --bus (such as --bus redis://127.0.0.1:6379); in memory one process is all")
    }
    if (flags.web && flags.metricsPort === 0) {
      return yield* invalid("--web", true, "the web view is served by the metrics server: give --metrics-port a port from 1 to 65535, not 0")
    }
    if (!(flags.speed > 0 && Number.isFinite(flags.speed))) {
      return yield* invalid("--speed", flags.speed, "expected a positive number of candles per second")
    }
    const {
      allowShort, broker, bus: _bus, live, param, partitions: _partitions, recvWindow, report, role: _role, source, testnet, wsApiUrl,
      ...rest
    } = flags
    // last: on an exchange this reads the key, after every cheaper check
    const venue = yield* resolveVenue({
      source, broker, testnet, live, restUrl: flags.restUrl, wsApiUrl, wsUrl: flags.wsUrl, recvWindow
    })
    return {
      ...rest,
      source: venue.source,
      broker: venue.broker,
      ...(redis !== undefined ? { redis } : {}),
      params: Option.match(param, { onNone: () => ({}), onSome: (map) => Object.fromEntries(map) }),
      allowShort,
      symbols: [...new Set(symbols)],
      duration,
      statusInterval: yield* positiveDuration("--status-interval", flags.statusInterval),
      brokerLatency: yield* nonNegativeDuration("--broker-latency", flags.brokerLatency),
      summaryJson: flags.summaryJson,
      wsUrl: venue.wsUrl,
      restUrl: venue.restUrl,
      journal: flags.journal,
      record: flags.record,
      ...(Option.isSome(report) ? { report: report.value } : {})
    }
  })
