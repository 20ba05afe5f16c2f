import { FileSystem } from "@effect/platform"
import { NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { Clock, Console, Context, Duration, Effect, Layer, Option, Schedule } from "effect"
import * as BinanceMarketData from "../layers/market/BinanceMarketData.js"
import * as CircuitBreakerBroker from "../layers/execution/CircuitBreakerBroker.js"
import * as JournaledBroker from "../layers/execution/JournaledBroker.js"
import * as JournalHooks from "../layers/journal/JournalHooks.js"
import * as JournalRecovery from "../layers/journal/JournalRecovery.js"
import * as MemoryEventBus from "../layers/bus/MemoryEventBus.js"
import * as MemoryPortfolio from "../layers/trading/MemoryPortfolio.js"
import * as MetricsServer from "../layers/observability/MetricsServer.js"
import * as PaperBroker from "../layers/execution/PaperBroker.js"
import * as RiskOrderManager from "../layers/trading/RiskOrderManager.js"
import * as SimulatedExchange from "../layers/market/SimulatedExchange.js"
import * as SmaCrossoverStrategy from "../layers/trading/SmaCrossoverStrategy.js"
import * as SqliteDeadLetters from "../layers/journal/SqliteDeadLetters.js"
import * as SqliteJournal from "../layers/journal/SqliteJournal.js"
import * as TradingEngine from "../layers/trading/TradingEngine.js"
import { EngineStats } from "../services/EngineStats.js"
import { EventBus } from "../services/EventBus.js"
import { MarketData } from "../services/MarketData.js"
import { Portfolio } from "../services/Portfolio.js"
import type { Strategy } from "../services/Strategy.js"
import { ConfigurationError } from "./ConfigurationError.js"
import * as Dashboard from "./Dashboard.js"
import { runPage } from "./report/ReportPages.js"
import type { RunConfig } from "./RunOptions.js"
import { makeTimeline, sampleOf, sampler } from "./report/RunTimeline.js"
import { candleCount, formatSummary, type RunSummary, type Snapshot, statusLine, summarize } from "./Summary.js"

/** Candles from the embedded simulator, through the same Binance collector the live engine uses. */
const simulatedSource = (config: RunConfig) =>
  Layer.unwrapEffect(
    Effect.map(SimulatedExchange.SimulatedExchange, (exchange) =>
      BinanceMarketData.layer({
        symbols: config.symbols,
        interval: config.interval,
        wsUrl: exchange.wsUrl,
        restUrl: exchange.restUrl,
        candleUpdates: config.candleUpdates
      }))
  ).pipe(
    Layer.provide(SimulatedExchange.layer({
      symbols: config.symbols,
      interval: config.interval,
      seed: config.seed,
      speed: config.speed
    }))
  )

const binanceSource = (config: RunConfig) =>
  BinanceMarketData.layer({
    symbols: config.symbols,
    interval: config.interval,
    wsUrl: config.wsUrl,
    restUrl: config.restUrl,
    candleUpdates: config.candleUpdates
  })

/** The bus, from the environment; it records its metrics while the program serves them. */
const bus = (config: RunConfig) => MemoryEventBus.layerFromEnvWith({ metrics: config.metricsPort !== 0 })

/**
 * Execution: the paper broker behind a circuit breaker, behind the journal's
 * idempotency check (a journaled outcome returns before the breaker is asked).
 */
const brokerLayer = (config: RunConfig) =>
  JournaledBroker.layer.pipe(
    Layer.provideMerge(CircuitBreakerBroker.layer()),
    Layer.provide(
      PaperBroker.layer({ feeBps: config.feeBps, slippageBps: config.slippageBps, latency: config.brokerLatency })
    )
  )

/** The trading pipeline on the bus: the strategy (unless `--strategy none`), risk checks, paper broker, portfolio. */
export const tradingLayer = (config: RunConfig, strategy?: Layer.Layer<Strategy>) =>
  TradingEngine.layer.pipe(
    Layer.provide(
      Layer.mergeAll(
        strategy ??
          (config.strategy === "sma" ? SmaCrossoverStrategy.layer({ fast: config.fast, slow: config.slow }) : Layer.empty),
        RiskOrderManager.layer({
          quoteAmount: config.quoteAmount,
          maxPositionNotional: config.maxPositionNotional,
          maxOpenOrders: config.maxOpenOrders
        })
      )
    ),
    Layer.provideMerge(brokerLayer(config)),
    Layer.provideMerge(MemoryPortfolio.layer)
  )

/** Where candles come from: the simulator or Binance, through the same collector. */
export const sourceLayer = (config: RunConfig) =>
  (config.source === "sim" ? simulatedSource(config) : binanceSource(config)).pipe(
    Layer.provide(Layer.mergeAll(NodeSocket.layerWebSocketConstructor, NodeHttpClient.layerUndici))
  )

export interface EngineExtras {
  /** Replaces the strategy `--strategy` names. */
  readonly strategy?: Layer.Layer<Strategy>
  /** More subscribers on the bus (recorders, exporters), subscribed before the source starts. */
  readonly plugins?: Layer.Layer<never, never, EventBus>
}

/**
 * The whole engine as one layer. Built in dependency order (the bus, then
 * the portfolio, broker and the engine's subscriptions, then the plugins,
 * then the source); released in reverse, so closing it stops the source
 * first and only then lets the bus drain.
 *
 * With `config.journal`, the journal comes first (closed last, after the
 * drain) with the bus's hooks, so every event of the `order` queue is
 * journaled before it is enqueued; what the last run left unhandled is
 * published again after the subscribers and before the source starts.
 * With `config.record`, the hooks record every other event too (done, never
 * recovered): the journal is then an event log of the whole run.
 */
export const engineLayer = (config: RunConfig, extras: EngineExtras = {}) => {
  const subscribers = Layer.merge(tradingLayer(config, extras.strategy), extras.plugins ?? Layer.empty)
  if (config.journal === undefined) {
    return sourceLayer(config).pipe(
      Layer.provideMerge(subscribers),
      Layer.provideMerge(bus(config))
    )
  }
  return sourceLayer(config).pipe(
    Layer.provideMerge(JournalRecovery.layer),
    Layer.provideMerge(subscribers),
    Layer.provideMerge(bus(config)),
    Layer.provideMerge(config.record === true ? JournalHooks.layerWith({ record: true }) : JournalHooks.layer),
    // dead letters live in the journal's file, on its connection (the journal locks the file exclusively)
    Layer.provideMerge(SqliteDeadLetters.layer.pipe(Layer.provideMerge(SqliteJournal.layerWithSql({ filename: config.journal }))))
  )
}

/**
 * The Prometheus endpoint and health checks on top of the engine, unless
 * `--metrics-port 0`: built last, so they stop first. A port that cannot be
 * bound is the user's to fix.
 */
const withMetricsServer = <E, R>(
  config: RunConfig,
  engine: Layer.Layer<EventBus | MarketData | Portfolio | EngineStats, E, R>
) =>
  config.metricsPort === 0 ? engine : MetricsServer.layer({ port: config.metricsPort, host: config.metricsHost }).pipe(
    Layer.catchAll((error) =>
      Layer.fail(
        new ConfigurationError({
          flag: "--metrics-port",
          value: config.metricsPort,
          reason: `cannot listen on ${config.metricsHost}:${config.metricsPort} (${
            String(error.cause)
          }): pick another port, or 0 to disable the metrics server`
        })
      )
    ),
    Layer.provideMerge(engine)
  )

/** What the status line, the dashboard and the summary are made from. */
export const snapshot = (context: Context.Context<EventBus | EngineStats | MarketData | Portfolio>) =>
  Effect.all({
    bus: Context.get(context, EventBus).stats,
    engine: Context.get(context, EngineStats).snapshot,
    collector: Context.get(context, MarketData).stats,
    positions: Context.get(context, Portfolio).positions,
    pnl: Context.get(context, Portfolio).pnl,
    breaker: Option.match(Context.getOption(context, CircuitBreakerBroker.BreakerState), {
      onNone: () => Effect.succeed(undefined),
      onSome: (state) => state.snapshot
    })
  }) satisfies Effect.Effect<Snapshot>

const statusLoop = (context: Context.Context<EventBus | EngineStats | MarketData | Portfolio>, every: Duration.Duration) =>
  Effect.gen(function*() {
    let last = { candles: 0, at: yield* Clock.currentTimeMillis }
    yield* Effect.repeat(
      Effect.gen(function*() {
        const s = yield* snapshot(context)
        const now = yield* Clock.currentTimeMillis
        const candles = candleCount(s)
        const rate = ((candles - last.candles) * 1000) / Math.max(1, now - last.at)
        last = { candles, at: now }
        yield* Console.log(statusLine(s, rate))
      }),
      Schedule.spaced(every)
    ).pipe(Effect.delay(every))
  })

/**
 * Runs the engine until `--duration` or an interruption (SIGINT, SIGTERM),
 * then closes it (the source stops, the bus drains), prints the summary and
 * writes it to `--summary-json`, however the run ended.
 */
export const runEngine = (config: RunConfig, extras: EngineExtras = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const started = yield* Clock.currentTimeMillis
    let context: Context.Context<EventBus | EngineStats | MarketData | Portfolio> | undefined
    let summary: RunSummary | undefined
    // --report: the run sampled every 250 ms, queue sizes every 50 ms (the timeline thins itself on long runs)
    const timeline = config.report === undefined ? undefined : makeTimeline()
    const report = Effect.suspend(() => {
      if (context === undefined) return Effect.void
      const ctx = context
      return Effect.gen(function*() {
        const last = yield* snapshot(ctx)
        summary = summarize(last)
        const ended = yield* Clock.currentTimeMillis
        yield* Console.log(formatSummary(summary, Duration.millis(ended - started)))
        if (Option.isSome(config.summaryJson)) {
          yield* fs.writeFileString(config.summaryJson.value, `${JSON.stringify(summary, null, 2)}\n`)
        }
        if (timeline !== undefined && config.report !== undefined) {
          timeline.add(sampleOf(last, ended))
          yield* fs.writeFileString(config.report, runPage(summary, timeline.all(), {
            title: `trading-bus run: ${config.source === "sim" ? "simulator" : "binance"} ${config.symbols.join(",")} ${config.interval}, strategy ${config.strategy}`,
            started,
            ended,
            capacities: { data: last.bus.data.capacity, signal: last.bus.signal.capacity, order: last.bus.order.capacity }
          }))
          yield* Console.log(`trading-bus: report written to ${config.report}`)
        }
      })
    })
    // the live view needs a terminal; without one, the status line stays
    const dashboard = config.dashboard === true && process.stdout.isTTY === true
    if (config.dashboard === true && !dashboard) {
      yield* Console.log("trading-bus: --dashboard needs a terminal (stdout is not a TTY); printing status lines instead")
    }
    const recent = Dashboard.makeRecentEvents()
    const engine = dashboard
      ? engineLayer(config, {
        ...extras,
        plugins: Layer.merge(extras.plugins ?? Layer.empty, Dashboard.recentEventsLayer(recent))
      })
      : engineLayer(config, extras)
    const run = Effect.scoped(
      Effect.gen(function*() {
        const built = yield* Layer.build(withMetricsServer(config, engine))
        context = built
        yield* Console.log(
          `trading-bus: ${config.source === "sim" ? "simulator" : "binance"} ${config.symbols.join(",")} ${config.interval}, strategy ${config.strategy}${
            Option.isSome(config.duration) ? `, for ${Duration.format(config.duration.value)}` : ", until Ctrl-C"
          }${config.record === true && config.journal !== undefined ? `, recording every event in ${config.journal}` : ""}`
        )
        yield* Effect.forkScoped(
          dashboard
            ? Dashboard.redraw(snapshot(built), recent, {
              every: "500 millis",
              size: () => ({ columns: process.stdout.columns || 100, rows: process.stdout.rows || 40 })
            })
            : statusLoop(built, config.statusInterval)
        )
        if (timeline !== undefined) {
          const bus = Context.get(built, EventBus)
          yield* Effect.forkScoped(sampler(timeline, bus.stats, snapshot(built), { pollMillis: 50, pollsPerSample: 5 }))
        }
        yield* Option.match(config.duration, { onNone: () => Effect.never, onSome: Effect.sleep })
      })
    )
    // The report runs after the scope closed, so after the drain.
    yield* run.pipe(Effect.ensuring(Effect.orDie(report)))
    return summary
  })
