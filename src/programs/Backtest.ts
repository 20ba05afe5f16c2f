import { FileSystem } from "@effect/platform"
import { BigDecimal, Clock, Console, Context, Duration, Effect, Layer, Option } from "effect"
import { type BusEvent, makeEventAt } from "../domain/BusEvent.js"
import type { Candle } from "../domain/Candle.js"
import { formatDecimal } from "../domain/Decimal.js"
import * as CandleFile from "../layers/market/CandleFile.js"
import * as MemoryEventBus from "../layers/bus/MemoryEventBus.js"
import { EngineStats } from "../services/EngineStats.js"
import { type BusStats, EventBus } from "../services/EventBus.js"
import { Portfolio } from "../services/Portfolio.js"
import type { Strategy } from "../services/Strategy.js"
import { tradingLayer } from "./Engine.js"
import { backtestPage } from "./report/ReportPages.js"
import type { RunConfig } from "./RunOptions.js"

/** The trading settings a backtest or a replay takes from its flags. */
export interface TradingFlags {
  readonly strategy: RunConfig["strategy"]
  readonly fast: number
  readonly slow: number
  readonly quoteAmount: string
  readonly maxPositionNotional: string
  readonly maxOpenOrders: number
  readonly feeBps: number
  readonly slippageBps: number
}

/** An engine configuration for recorded candles: the trading flags given, the source settings unused. */
export const configOf = (flags: TradingFlags, symbol: string, interval: string): RunConfig => ({
  ...flags,
  source: "sim",
  symbols: [symbol.toLowerCase()],
  interval,
  duration: Option.none(),
  seed: 0,
  speed: 1,
  wsUrl: "",
  restUrl: "",
  candleUpdates: false,
  statusInterval: Duration.hours(1),
  brokerLatency: Duration.zero,
  summaryJson: Option.none(),
  metricsPort: 0,
  metricsHost: "127.0.0.1"
})

/** `EngineExtras` for a backtest: plugins may read the portfolio too. */
export interface BacktestExtras {
  /** Replaces the strategy `config.strategy` names. */
  readonly strategy?: Layer.Layer<Strategy>
  /** More subscribers on the bus, subscribed after the engine's and before the first candle. */
  readonly plugins?: Layer.Layer<never, never, EventBus | Portfolio>
}

/** The `source` of the candles a backtest publishes. */
export const source = "backtest"

export interface BacktestOptions {
  /** The trading settings (strategy, sizing, risk, paper broker), as `trading-bus run` takes them. */
  readonly config: RunConfig
  readonly file: CandleFile.CandleFileOptions
  /**
   * true (the default): one candle at a time, the next once everything it caused (signals, orders, fills,
   * positions) is handled, as if each candle lasted long enough for the pipeline: the results do not depend
   * on the machine's speed. false: as fast as the data queue takes them, in chunks of `chunkSize`; the
   * strategy sees the same candles, but orders may pile up (`maxOpenOrders`) and fill a few candles late.
   */
  readonly lockstep?: boolean
  /** Candles published per batch without lockstep; the data queue is given at least this capacity. Default 256. */
  readonly chunkSize?: number
  /** Write the report as JSON to this file. */
  readonly reportJson?: string
  /** Write the report as a self-contained HTML page (with the equity curve) to this file. */
  readonly reportHtml?: string
}

/**
 * What a backtest reports. P&L in the quote asset, fees included.
 * - `roundTrips`: a round trip opens when a symbol's position leaves 0 and closes when it returns to 0 or
 *   flips sign (a flip closes one and opens the next); its P&L is the change of the symbol's realized P&L
 *   over it, the fees of its fills included (a flipping fill's fee counts for the trip it closes).
 *   `winRate` = round trips with P&L > 0 / closed round trips (null when none closed).
 * - The equity curve is realized + unrealized P&L after each candle (read once the engine's
 *   mark-to-market ran on it), and once more after the drain. `maxDrawdown` is the largest fall from a
 *   running peak (the peak starts at 0); `maxDrawdownPct` is that fall as a % of `capital + peak`, where
 *   `capital` is one order's notional (`--quote-amount`).
 */
export interface BacktestReport {
  readonly file: string
  readonly symbol: string
  readonly interval: string
  readonly from: number
  readonly to: number
  readonly candles: number
  readonly malformed: number
  /** Candles the sliding data queue pushed out: a backtest must lose none, so this is 0. */
  readonly dropped: number
  readonly signals: number
  readonly orders: number
  readonly fills: number
  readonly rejected: number
  readonly errors: number
  readonly roundTrips: number
  readonly wins: number
  readonly winRate: number | null
  readonly realizedPnl: string
  readonly unrealizedPnl: string
  readonly totalPnl: string
  readonly maxDrawdown: number
  readonly maxDrawdownPct: number
  readonly elapsedMs: number
  readonly candlesPerSecond: number
}

const zero = BigDecimal.fromBigInt(0n)

/** A backtest's curves, one entry per candle in each array: P&L after the candle, and its close. */
export interface EquityCurves {
  readonly time: Array<number>
  /** Realized + unrealized P&L. */
  readonly equity: Array<number>
  readonly realized: Array<number>
  readonly close: Array<number>
}

/** Follows the equity curve and the round trips; subscribed after the engine, so its handlers run after the engine's. */
const makeTracker = (capital: number, keepCurves: boolean) => {
  let peak = 0
  let maxDrawdown = 0
  let maxDrawdownPct = 0
  // the curves of the HTML report (kept only for one): one point per candle, at its close time
  const curves: EquityCurves = { time: [], equity: [], realized: [], close: [] }
  const observe = (equity: number) => {
    peak = Math.max(peak, equity)
    const dd = peak - equity
    if (dd > maxDrawdown) maxDrawdown = dd
    const base = capital + peak
    if (base > 0 && (dd / base) * 100 > maxDrawdownPct) maxDrawdownPct = (dd / base) * 100
  }
  const books = new Map<string, { quantity: BigDecimal.BigDecimal; realized: BigDecimal.BigDecimal; openedAt?: BigDecimal.BigDecimal }>()
  const trips = { closed: 0, wins: 0 }
  const onPosition = (symbol: string, quantity: BigDecimal.BigDecimal, realized: BigDecimal.BigDecimal) => {
    const book = books.get(symbol) ?? { quantity: zero, realized: zero }
    const before = BigDecimal.sign(book.quantity)
    const after = BigDecimal.sign(quantity)
    let openedAt = book.openedAt
    if (before !== 0 && after !== before && openedAt !== undefined) {
      trips.closed++
      if (BigDecimal.isPositive(BigDecimal.subtract(realized, openedAt))) trips.wins++
      openedAt = undefined
    }
    // a trip's P&L starts before its opening fill, so that fill's fee counts; after a flip, from the flip
    if (after !== 0 && after !== before) openedAt = before === 0 ? book.realized : realized
    books.set(symbol, openedAt === undefined ? { quantity, realized } : { quantity, realized, openedAt })
  }
  const layer = Layer.scopedDiscard(Effect.gen(function*() {
    const bus = yield* EventBus
    const portfolio = yield* Portfolio
    yield* bus.subscribe("CandleClosed", ({ payload }) =>
      Effect.map(portfolio.pnl, (p) => {
        const equity = BigDecimal.unsafeToNumber(BigDecimal.sum(p.realized, p.unrealized))
        observe(equity)
        if (keepCurves) {
          curves.time.push(payload.closeTime)
          curves.equity.push(equity)
          curves.realized.push(BigDecimal.unsafeToNumber(p.realized))
          curves.close.push(payload.close)
        }
      }), { name: "backtest-equity" })
    yield* bus.subscribe("OrderFilled", ({ payload }) =>
      Effect.map(portfolio.position(payload.symbol), (position) => {
        if (position !== undefined) onPosition(payload.symbol, position.quantity, position.realizedPnl)
      }), { name: "backtest-trips" })
  }))
  return { layer, observe, trips, curves, drawdown: () => ({ maxDrawdown, maxDrawdownPct }) }
}

/** Counts what is published through the bus, so that a backtest can tell when everything published is handled. */
const countingBus = (counter: { published: number }) =>
  Layer.effect(
    EventBus,
    Effect.map(EventBus, (bus) => {
      const count = (n: number) => Effect.sync(() => void (counter.published += n))
      return EventBus.of({
        ...bus,
        publish: (event, queue) =>
          Effect.zipRight(count(1), bus.publish(event, queue).pipe(Effect.onError(() => count(-1)))),
        publishAll: (events, queue) => {
          const all = Array.from(events)
          // a failure part way leaves some published: count what reached the queues
          return Effect.zipRight(count(all.length), bus.publishAll(all, queue).pipe(Effect.onError(() => count(-all.length))))
        }
      })
    })
  )

const processedOf = (stats: BusStats) => stats.data.processed + stats.signal.processed + stats.order.processed

/**
 * Publishes every candle as a CandleClosed. In lockstep, one at a time, each once the bus has handled all
 * that was published (an event's handlers publish what follows from it before it counts as processed, so
 * processed = published means the pipeline is idle); otherwise in chunks, the data queue emptied before
 * each chunk, so that the sliding queue drops nothing.
 */
const publishCandles = (
  bus: Context.Tag.Service<EventBus>,
  candles: ReadonlyArray<Candle>,
  options: { readonly lockstep: boolean; readonly chunkSize: number; readonly counter: { readonly published: number } }
) =>
  Effect.gen(function*() {
    const size = options.lockstep ? 1 : options.chunkSize
    for (let start = 0; start < candles.length; start += size) {
      const events: Array<BusEvent> = candles.slice(start, start + size).map((candle) =>
        makeEventAt("CandleClosed", candle, candle.closeTime, { source })
      )
      if (options.lockstep) {
        while (options.counter.published > processedOf(yield* bus.stats)) yield* Effect.yieldNow()
      } else {
        while ((yield* bus.stats).data.size > 0) yield* Effect.yieldNow()
      }
      yield* bus.publishAll(events)
    }
  })

/**
 * Runs a file's candles through the same engine as `trading-bus run` (the bus, strategy, order manager,
 * paper broker and portfolio of `tradingLayer`), as fast as the engine takes them, then closes it (the bus
 * drains), prints the report and returns it.
 */
export const backtest = (options: BacktestOptions, extras: BacktestExtras = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const content = yield* CandleFile.read(options.file)
    const chunkSize = Math.max(1, options.chunkSize ?? 256)
    const capital = BigDecimal.unsafeToNumber(BigDecimal.unsafeFromString(options.config.quoteAmount))
    const tracker = makeTracker(capital, options.reportHtml !== undefined)
    const counter = { published: 0 }
    const lockstep = options.lockstep ?? true
    const engine = tracker.layer.pipe(
      Layer.provideMerge(extras.plugins ?? Layer.empty),
      Layer.provideMerge(tradingLayer(options.config, extras.strategy)),
      Layer.provideMerge(
        countingBus(counter).pipe(
          Layer.provide(MemoryEventBus.layer({ dataCapacity: Math.max(chunkSize, 1000), drainTimeout: "60 seconds" }))
        )
      )
    )
    const started = yield* Clock.currentTimeMillis
    const context = yield* Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(engine)
      yield* Effect.logInfo(
        `backtest: ${content.candles.length} ${content.symbol} ${content.interval} candles from ${content.path}, strategy ${options.config.strategy}${
          lockstep ? "" : `, chunks of ${chunkSize}`
        }`
      )
      yield* publishCandles(Context.get(ctx, EventBus), content.candles, { lockstep, chunkSize, counter })
      return ctx
    }))
    // the scope is closed: the bus has drained, every fill is applied
    const elapsedMs = (yield* Clock.currentTimeMillis) - started
    const stats = yield* Context.get(context, EventBus).stats
    const counters = yield* Context.get(context, EngineStats).snapshot
    const pnl = yield* Context.get(context, Portfolio).pnl
    const total = BigDecimal.sum(pnl.realized, pnl.unrealized)
    tracker.observe(BigDecimal.unsafeToNumber(total))
    if (stats.data.dropped > 0) yield* Effect.logError(`backtest: the data queue dropped ${stats.data.dropped} candles`)
    const { maxDrawdown, maxDrawdownPct } = tracker.drawdown()
    const candles = content.candles
    const report: BacktestReport = {
      file: content.path,
      symbol: content.symbol,
      interval: content.interval,
      from: candles[0]!.openTime,
      to: candles[candles.length - 1]!.closeTime,
      candles: candles.length,
      malformed: content.malformed.length,
      dropped: stats.data.dropped,
      signals: counters.signals,
      orders: counters.orders,
      fills: counters.fills,
      rejected: counters.rejected,
      errors: counters.errors,
      roundTrips: tracker.trips.closed,
      wins: tracker.trips.wins,
      winRate: tracker.trips.closed === 0 ? null : tracker.trips.wins / tracker.trips.closed,
      realizedPnl: formatDecimal(pnl.realized),
      unrealizedPnl: formatDecimal(pnl.unrealized),
      totalPnl: formatDecimal(total),
      maxDrawdown,
      maxDrawdownPct,
      elapsedMs,
      candlesPerSecond: Math.round((candles.length * 1000) / Math.max(1, elapsedMs))
    }
    yield* Console.log(formatReport(report))
    if (options.reportJson !== undefined) {
      yield* fs.writeFileString(options.reportJson, `${JSON.stringify(report, null, 2)}\n`)
    }
    if (options.reportHtml !== undefined) {
      yield* fs.writeFileString(options.reportHtml, backtestPage(report, tracker.curves, yield* Clock.currentTimeMillis))
    }
    return report
  })

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

/** The report as the `backtest` command prints it. */
export const formatReport = (r: BacktestReport): string =>
  [
    `backtest ${r.symbol} ${r.interval}: ${r.candles} candles ${new Date(r.from).toISOString()} .. ${
      new Date(r.to + 1).toISOString()
    } (${r.malformed} malformed rows skipped, ${r.dropped} dropped)`,
    `  signals ${r.signals}, orders ${r.orders}, trades (fills) ${r.fills}, rejected ${r.rejected}, errors ${r.errors}`,
    `  round trips ${r.roundTrips}, wins ${r.wins}, win rate ${r.winRate === null ? "n/a" : pct(r.winRate)}`,
    `  P&L realized ${r.realizedPnl}, unrealized ${r.unrealizedPnl}, total ${r.totalPnl}`,
    `  max drawdown ${r.maxDrawdown.toPrecision(6)} (${r.maxDrawdownPct.toFixed(2)}%)`,
    `  ${r.candlesPerSecond} candles/s (${r.elapsedMs} ms)`
  ].join("\n")
