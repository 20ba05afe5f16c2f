import * as FileSystem from "@effect/platform/FileSystem"
import { Clock, Console, Context, Duration, Effect, Layer, Option, Schedule } from "effect"
import * as Engine from "../layers/engine/Engine.js"
import { checkWritable } from "../layers/engine/internal/StartupChecks.js"
import type { EngineServices } from "../layers/engine/RunSummary.js"
import { EventBus } from "../services/EventBus.js"
import type { Strategy } from "../services/Strategy.js"
import { asConfigurationError, ConfigurationError } from "./ConfigurationError.js"
import * as Dashboard from "./Dashboard.js"
import { runPage } from "./report/ReportPages.js"
import { makeTimeline, sampleOf, sampler } from "./report/RunTimeline.js"
import { describeBroker, venueForLog } from "./BrokerOptions.js"
import type { RunConfig } from "./RunOptions.js"
import { resolveStrategy } from "./StrategyModule.js"
import { candleCount, formatSummary, statusLine } from "./Summary.js"

/** `trading-bus run`'s flags as the library's engine options. */
export const engineOptionsOf = (config: RunConfig, strategy: Layer.Layer<Strategy>): Engine.EngineOptions => ({
  source: config.source === "sim"
    ? { _tag: "Simulator", symbols: config.symbols, interval: config.interval, seed: config.seed, speed: config.speed }
    : {
      _tag: "Binance",
      symbols: config.symbols,
      interval: config.interval,
      wsUrl: config.wsUrl,
      restUrl: config.restUrl,
      candleUpdates: config.candleUpdates
    },
  strategy,
  broker: config.broker ?? "paper",
  quoteAmount: config.quoteAmount,
  maxPositionNotional: config.maxPositionNotional,
  maxOpenOrders: config.maxOpenOrders,
  allowShort: config.allowShort ?? false,
  feeBps: config.feeBps,
  slippageBps: config.slippageBps,
  brokerLatency: config.brokerLatency,
  journal: config.journal ?? false,
  record: config.record ?? false,
  metrics: { port: config.metricsPort, host: config.metricsHost },
  web: config.web ?? false,
  ...(config.redis !== undefined ? { bus: { _tag: "Redis" as const, ...config.redis } } : {}),
  ...(Option.isSome(config.duration) ? { duration: config.duration.value } : {})
})

/** A flag's problem as the program reports it (exit 2). */
const asFlagError = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.mapError(effect, (e) => asConfigurationError(e) ?? new ConfigurationError({ flag: "--unknown", value: e, reason: String(e) }))

const statusLoop = (context: Context.Context<EngineServices>, every: Duration.Duration) =>
  Effect.gen(function*() {
    let last = { candles: 0, at: yield* Clock.currentTimeMillis }
    yield* Effect.repeat(
      Effect.gen(function*() {
        const s = yield* Engine.snapshot(context)
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
 * `trading-bus run`: the library's engine with the program's views (status line or dashboard, the report's
 * sampler), then the summary printed and written to `--summary-json`, however the run ended. The files the
 * run writes at its end are checked before it starts.
 */
export const runProgram = (config: RunConfig, extras: { readonly plugins?: Layer.Layer<never, never, EventBus> } = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (Option.isSome(config.summaryJson)) yield* asFlagError(checkWritable("summaryJson", config.summaryJson.value))
    if (config.report !== undefined) yield* asFlagError(checkWritable("report", config.report))
    const strategy = yield* resolveStrategy({
      strategy: config.strategy,
      fast: config.fast,
      slow: config.slow,
      ...(config.params !== undefined ? { params: config.params } : {})
    })
    // --report: the run sampled every 250 ms, queue sizes every 50 ms (the timeline thins itself on long runs)
    const timeline = config.report === undefined ? undefined : makeTimeline()
    // the live view needs a terminal; without one, the status line stays
    const dashboard = config.dashboard === true && process.stdout.isTTY === true
    if (config.dashboard === true && !dashboard) {
      yield* Console.log("trading-bus: --dashboard needs a terminal (stdout is not a TTY); printing status lines instead")
    }
    const recent = Dashboard.makeRecentEvents()
    const plugins = dashboard
      ? Layer.merge(extras.plugins ?? Layer.empty, Dashboard.recentEventsLayer(recent))
      : extras.plugins
    const options: Engine.EngineOptions = {
      ...engineOptionsOf(config, strategy),
      ...(plugins !== undefined ? { plugins } : {})
    }
    const title = `${config.source === "sim" ? "simulator" : "binance"} ${config.symbols.join(",")} ${config.interval}, strategy ${config.strategy}, ${describeBroker(config.broker)}`
    yield* Effect.logDebug("run: market data and broker", venueForLog(config))
    const end = yield* Engine.runWith(options, {
      onStart: (built) =>
        Effect.gen(function*() {
          yield* Console.log(
            `trading-bus: ${title}${
              Option.isSome(config.duration) ? `, for ${Duration.format(config.duration.value)}` : ", until Ctrl-C"
            }${config.record === true && config.journal !== undefined ? `, recording every event in ${config.journal}` : ""}`
          )
          yield* Effect.forkScoped(
            dashboard
              ? Dashboard.redraw(Engine.snapshot(built), recent, {
                every: "500 millis",
                size: () => ({ columns: process.stdout.columns || 100, rows: process.stdout.rows || 40 })
              })
              : statusLoop(built, config.statusInterval)
          )
          if (timeline !== undefined) {
            const bus = Context.get(built, EventBus)
            yield* Effect.forkScoped(sampler(timeline, bus.stats, Engine.snapshot(built), { pollMillis: 50, pollsPerSample: 5 }))
          }
        }),
      // after the drain, interrupted or not; the paths were checked at start
      onEnd: ({ ended, snapshot: last, started, summary }) =>
        Effect.gen(function*() {
          yield* Console.log(formatSummary(summary, Duration.millis(ended - started)))
          if (Option.isSome(config.summaryJson)) {
            yield* fs.writeFileString(config.summaryJson.value, `${JSON.stringify(summary, null, 2)}\n`)
          }
          if (timeline !== undefined && config.report !== undefined) {
            timeline.add(sampleOf(last, ended))
            yield* fs.writeFileString(config.report, runPage(summary, timeline.all(), {
              title: `trading-bus run: ${title}`,
              started,
              ended,
              capacities: { data: last.bus.data.capacity, signal: last.bus.signal.capacity, order: last.bus.order.capacity }
            }))
            yield* Console.log(`trading-bus: report written to ${config.report}`)
          }
        }).pipe(Effect.orDie)
    })
    return end.summary
  })
