import { NodeFileSystem, NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { Clock, type ConfigError, type Context, Data, type Duration, Effect, Layer, type Scope } from "effect"
import type { EventBusConfigError } from "../../domain/Errors.js"
import * as BinanceMarketData from "../market/BinanceMarketData.js"
import * as JournalHooks from "../journal/JournalHooks.js"
import * as JournalRecovery from "../journal/JournalRecovery.js"
import * as MemoryEventBus from "../bus/MemoryEventBus.js"
import * as MetricsServer from "../observability/MetricsServer.js"
import * as TradingEngine from "../trading/TradingEngine.js"
import * as SimulatedExchange from "../market/SimulatedExchange.js"
import * as SqliteDeadLetters from "../journal/SqliteDeadLetters.js"
import * as SqliteJournal from "../journal/SqliteJournal.js"
import type { EventBus } from "../../services/EventBus.js"
import type { MarketData } from "../../services/MarketData.js"
import type { Strategy } from "../../services/Strategy.js"
import type { CandleFileError } from "../market/CandleFile.js"
import * as CandleSource from "./CandleSource.js"
import { checkPortFree, EngineConfigError, ensureFolderOf } from "./internal/StartupChecks.js"
import { type EngineServices, type RunSummary, type Snapshot, snapshot, summarize } from "./RunSummary.js"
import { paperBroker, type TradingOptions, tradingLayer } from "./Trading.js"
import { busSource, onceExecution, type RedisBusOptions, redisBusLayer, sameBroker } from "./internal/RedisRoles.js"
import { Strategy as StrategyTag } from "../../services/Strategy.js"
import * as SqliteOrderSteps from "../journal/SqliteOrderSteps.js"
import type { EngineBroker } from "./BrokerChoice.js"
import { executionOf } from "./internal/BrokerLayers.js"
import * as BalanceCheck from "./internal/BalanceCheck.js"

export { EngineConfigError } from "./internal/StartupChecks.js"
export { type EngineRole, engineRoles, type RedisBusOptions } from "./internal/RedisRoles.js"
export type { EngineServices, RunSummary, Snapshot } from "./RunSummary.js"
export { snapshot, summarize } from "./RunSummary.js"
export type { TradingOptions } from "./Trading.js"
export type { BinanceBrokerChoice, BinanceKey, BinanceUrls, EngineBroker } from "./BrokerChoice.js"
export { binanceProduction, binanceTestnet } from "./BrokerChoice.js"

/** Where candles come from: the embedded simulator, Binance, a recorded file, or a source layer of your own. */
export type EngineSource =
  | {
    readonly _tag: "Simulator"
    readonly symbols?: ReadonlyArray<string>
    readonly interval?: string
    readonly seed?: number
    readonly speed?: number
  }
  | {
    readonly _tag: "Binance"
    readonly symbols: ReadonlyArray<string>
    readonly interval?: string
    readonly wsUrl?: string
    readonly restUrl?: string
    readonly candleUpdates?: boolean
  }
  /** A recorded file (every format `CandleFile` reads) replayed as a live source. */
  | { readonly _tag: "Candles"; readonly file: string; readonly symbol?: string; readonly interval?: string }
  | Layer.Layer<MarketData, unknown, EventBus>

export interface EngineOptions extends TradingOptions {
  readonly source: EngineSource
  /** Required: `Strategy.none` for a data-only run. */
  readonly strategy: Layer.Layer<Strategy>
  /** The SQLite order journal: a file, ":memory:", or false for none. Default `./data/trading-bus.db`. */
  readonly journal?: string | false
  /** Also record every other event in the journal (an event log). Default false. */
  readonly record?: boolean
  /** The Prometheus and health endpoints. Default port 9464 on 127.0.0.1; false or port 0: no server. */
  readonly metrics?: { readonly port?: number; readonly host?: string } | false
  /**
   * The bus: in this process (the default), or Redis Streams shared by several processes, each with its role.
   * Over Redis the order journal is off: the streams (with `appendfsync always`) hold the orders, and each
   * order's outcome is kept in Redis (`RedisOnceBroker`).
   */
  readonly bus?: RedisBusOptions
  /** The live web view at the metrics server's `/` (`MetricsServer`'s `web` option). Default false. */
  readonly web?: boolean
  /** `run` only: stop after this long. Default: until interrupted. */
  readonly duration?: Duration.DurationInput
  /**
   * Who executes the orders: the paper broker (the default) or Binance Spot (production, the testnet, any URL, or
   * the embedded simulator's order API with the Simulator source).
   */
  readonly broker?: EngineBroker
  /** More subscribers on the bus (recorders, exporters), subscribed before the source starts. */
  readonly plugins?: Layer.Layer<never, never, EventBus>
}

/** The defaults of `trading-bus run`'s simulator. */
const simulatorDefaults = { symbols: ["btcusdt", "ethusdt"], interval: "1m", seed: 42, speed: 10 }

/** The socket and HTTP client the Binance collector needs, and the file system of `CandleFile`: Node's. */
const platform = Layer.mergeAll(NodeSocket.layerWebSocketConstructor, NodeHttpClient.layerUndici, NodeFileSystem.layer)

/** A source layer of the user's failed to build: its error is kept as `cause`. */
export class EngineSourceError extends Data.TaggedError("EngineSourceError")<{ readonly cause: unknown }> {
  override get message() {
    return `the market-data source failed to start: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

const isSourceLayer = (source: EngineSource): source is Layer.Layer<MarketData, unknown, EventBus> =>
  Layer.isLayer(source)

type SourceError =
  | EngineSourceError
  | BinanceMarketData.BinanceConfigError
  | SimulatedExchange.SimulatedExchangeConfigError
  | SimulatedExchange.SimulatedExchangeStartError
  | CandleFileError

/** The embedded exchange of a Simulator source, with the keys its order API accepts (none: paper trading). */
const simulatorExchange = (source: Extract<EngineSource, { readonly _tag: "Simulator" }>) =>
(keys: ReadonlyArray<SimulatedExchange.SimulatorKey>) =>
  SimulatedExchange.layer({
    symbols: source.symbols ?? simulatorDefaults.symbols,
    interval: source.interval ?? simulatorDefaults.interval,
    seed: source.seed ?? simulatorDefaults.seed,
    speed: source.speed ?? simulatorDefaults.speed,
    keys
  })

const sourceLayer = (
  source: EngineSource,
  exchange: Layer.Layer<SimulatedExchange.SimulatedExchange, SimulatedExchange.SimulatedExchangeConfigError | SimulatedExchange.SimulatedExchangeStartError> | undefined
): Layer.Layer<MarketData, SourceError, EventBus> => {
  if (isSourceLayer(source)) return Layer.catchAll(source, (cause) => Layer.fail(new EngineSourceError({ cause })))
  switch (source._tag) {
    case "Simulator": {
      const symbols = source.symbols ?? simulatorDefaults.symbols
      const interval = source.interval ?? simulatorDefaults.interval
      // the collector of a live run, pointed at the embedded exchange
      return Layer.unwrapEffect(
        Effect.map(SimulatedExchange.SimulatedExchange, (exchange) =>
          BinanceMarketData.layer({
            symbols,
            interval,
            wsUrl: exchange.wsUrl,
            restUrl: exchange.restUrl,
            // its logs, events and metrics say "simulator"; its candle lag is measured in the market's time
            name: "simulator",
            marketTime: exchange.marketTime
          }))
      ).pipe(
        Layer.provide(exchange ?? simulatorExchange(source)([])),
        Layer.provide(platform)
      )
    }
    case "Binance":
      return BinanceMarketData.layer({
        symbols: source.symbols,
        interval: source.interval ?? "1m",
        wsUrl: source.wsUrl ?? "wss://stream.binance.com:9443",
        restUrl: source.restUrl ?? "https://api.binance.com",
        candleUpdates: source.candleUpdates ?? false
      }).pipe(Layer.provide(platform))
    case "Candles":
      return CandleSource.layer({
        path: source.file,
        ...(source.symbol !== undefined ? { symbol: source.symbol } : {}),
        ...(source.interval !== undefined ? { interval: source.interval } : {})
      }).pipe(Layer.provide(platform))
  }
}

const metricsOf = (options: EngineOptions) => {
  if (options.metrics === false) return undefined
  const port = options.metrics?.port ?? 9464
  return port === 0 ? undefined : { port, host: options.metrics?.host ?? "127.0.0.1" }
}

const journalOf = (options: EngineOptions) =>
  options.journal === false || options.bus !== undefined ? undefined : options.journal ?? SqliteJournal.defaultFilename

/**
 * What can fail at start, checked before anything is built, so before the journal's recovery publishes
 * (and executes) a single order: the journal's folder, the metrics port.
 */
const startupChecks = (options: EngineOptions) =>
  Effect.gen(function*() {
    const journal = journalOf(options)
    if (journal !== undefined && journal !== ":memory:") yield* ensureFolderOf("journal", journal)
    const metrics = metricsOf(options)
    if (options.web === true && metrics === undefined) {
      return yield* new EngineConfigError({
        option: "web",
        value: true,
        reason: "the web view is served by the metrics server: give metrics a port from 1 to 65535"
      })
    }
    if (metrics !== undefined) {
      if (!(Number.isSafeInteger(metrics.port) && metrics.port > 0 && metrics.port <= 65535)) {
        return yield* new EngineConfigError({
          option: "metricsPort",
          value: metrics.port,
          reason: "expected a port from 1 to 65535, or 0 to disable"
        })
      }
      yield* checkPortFree("metricsPort", metrics.host, metrics.port)
    }
  })

/**
 * Built in dependency order (the journal, the bus, the portfolio, broker and the engine's subscriptions,
 * then the plugins, the recovery, then the source); released in reverse, so closing it stops the source
 * first and only then lets the bus drain, and closes the journal last.
 */
const compose = (options: EngineOptions) => {
  const metrics = metricsOf(options)
  // the bus records its metrics while a server serves them
  const role = options.bus?.role ?? "all"
  const bus: Layer.Layer<EventBus, EventBusConfigError | ConfigError.ConfigError | EngineConfigError> = options.bus === undefined
    ? MemoryEventBus.layerFromEnvWith({ metrics: metrics !== undefined })
    : redisBusLayer(options.bus)
  // one embedded exchange for the source and, when it trades there, the broker (a layer is built once per build)
  const { exchange, executor, live } = executionOf(
    options.broker,
    !isSourceLayer(options.source) && options.source._tag === "Simulator" ? simulatorExchange(options.source) : undefined,
    paperBroker(options)
  )
  // a collector's engine never runs (its bus reads nothing): it is there for the summary's counters
  const pipeline = options.bus === undefined
    ? tradingLayer(options, options.strategy, sameBroker, executor.pipe(Layer.provide(platform)))
    : tradingLayer(
      options,
      role === "collector" ? StrategyTag.none : options.strategy,
      role === "collector" ? sameBroker : onceExecution(options.bus),
      executor.pipe(Layer.provide(platform))
    )
  // with an exchange's account: the positions checked against its balances before the source starts
  const trading = live ? Layer.provideMerge(BalanceCheck.layer, pipeline) : pipeline
  const knownSymbols = isSourceLayer(options.source) ? [] : options.source._tag === "Candles" ? [] : options.source.symbols ?? simulatorDefaults.symbols
  const symbolMetrics = Layer.effectDiscard(Effect.sync(() => TradingEngine.registerSymbolMetrics(knownSymbols)))
  const subscribers = Layer.mergeAll(trading, options.plugins ?? Layer.empty, symbolMetrics)
  const source = options.bus !== undefined && role === "engine" ? busSource : sourceLayer(options.source, exchange)
  const journal = journalOf(options)
  const engine = journal === undefined
    ? source.pipe(Layer.provideMerge(subscribers), Layer.provideMerge(bus))
    : source.pipe(
      Layer.provideMerge(JournalRecovery.layer),
      Layer.provideMerge(subscribers),
      Layer.provideMerge(bus),
      Layer.provideMerge(options.record === true ? JournalHooks.layerWith({ record: true }) : JournalHooks.layer),
      // dead letters (and a live broker's order steps) live in the journal's file, on its connection (the journal
      // locks the file exclusively); a paper run has no steps to keep
      Layer.provideMerge(
        Layer.merge(SqliteDeadLetters.layer, live ? SqliteOrderSteps.layer : Layer.empty).pipe(
          Layer.provideMerge(SqliteJournal.layerWithSql({ filename: journal }))
        )
      )
    )
  if (metrics === undefined) return engine
  // built last, so it stops first; its port was checked free before anything started
  return MetricsServer.layer({ ...metrics, web: options.web ?? false }).pipe(
    Layer.catchAll((error) =>
      Layer.fail(
        new EngineConfigError({
          option: "metricsPort",
          value: metrics.port,
          reason: `cannot listen on ${metrics.host}:${metrics.port} (${
            String(error.cause)
          }): pick another port, or 0 to disable the metrics server`
        })
      )
    ),
    Layer.provideMerge(engine)
  )
}

/** The whole engine as one scoped layer: a user needs no platform layer besides it. */
export const layer = (options: EngineOptions) =>
  Layer.unwrapEffect(Effect.as(startupChecks(options), compose(options)))

/** Why an engine could not start: a configuration error of one of its layers, or of the user's source. */
export type EngineError = Layer.Layer.Error<ReturnType<typeof layer>>

/** How a run ended: its summary, the last snapshot (after the drain) and when it started and ended (Clock). */
export interface RunEnd {
  readonly summary: RunSummary
  readonly snapshot: Snapshot
  readonly started: number
  readonly ended: number
}

export interface RunHooks<R> {
  /** Once the engine is built, before `duration` starts: fork what runs beside it (status line, sampler). */
  readonly onStart?: (engine: Context.Context<EngineServices>) => Effect.Effect<void, never, R | Scope.Scope>
  /** After the engine closed (the bus drained), however the run ended, interruption included. */
  readonly onEnd?: (end: RunEnd) => Effect.Effect<void, never, R>
}

/**
 * Runs the engine until `options.duration` or an interruption, with the program's hooks, and returns
 * how it ended. `run` is this without hooks.
 */
export const runWith = <R = never>(
  options: EngineOptions,
  hooks: RunHooks<R> = {}
): Effect.Effect<RunEnd, EngineError, R> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    let context: Context.Context<EngineServices> | undefined
    let end: RunEnd | undefined
    // read after the scope closed, so after the drain: the services answer from their final state
    const finish = Effect.suspend(() => {
      if (context === undefined) return Effect.void
      return Effect.gen(function*() {
        const last = yield* snapshot(context!)
        end = { summary: summarize(last), snapshot: last, started, ended: yield* Clock.currentTimeMillis }
        if (hooks.onEnd !== undefined) yield* hooks.onEnd(end)
      })
    })
    const running = Effect.scoped(Effect.gen(function*() {
      const built = yield* Layer.build(layer(options))
      context = built
      if (hooks.onStart !== undefined) yield* hooks.onStart(built)
      yield* options.duration === undefined ? Effect.never : Effect.sleep(options.duration)
    }))
    yield* running.pipe(Effect.ensuring(finish))
    return end!
  })

/** Runs the engine until `options.duration` or an interruption, and returns its summary. */
export const run = (options: EngineOptions): Effect.Effect<RunSummary, EngineError> =>
  Effect.map(runWith(options), (end) => end.summary)
