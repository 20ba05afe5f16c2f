// the module, not the package's index: a sweep's worker thread loads this file and need not load HTTP and sockets
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { BigDecimal, Clock, Context, Data, Effect, Layer, type Stream } from "effect"
import type { Candle } from "../../domain/Candle.js"
import { formatDecimal } from "../../domain/Decimal.js"
import type { Fill } from "../../domain/Order.js"
import * as CandleFile from "../market/CandleFile.js"
import * as MemoryEventBus from "../bus/MemoryEventBus.js"
import { EngineStats } from "../../services/EngineStats.js"
import { EventBus } from "../../services/EventBus.js"
import { Portfolio } from "../../services/Portfolio.js"
import type { Strategy } from "../../services/Strategy.js"
import { type FillModel, fillModels, makeBacktestFills } from "./BacktestFills.js"
import * as Statistics from "./BacktestStatistics.js"
import { type EquityCurves, makeTracker } from "./BacktestTracker.js"
import { quoteAssetOf } from "./SymbolInfo.js"
import { countingBus, type PublishCounter, seriesOf } from "./internal/BacktestInput.js"
import { type Driver, makeSeriesStats, openOnCandles, publishCandles } from "./internal/BacktestDriver.js"
import { makePipelineBarrier, makeRoomGate } from "./internal/Lockstep.js"
import { type TradingOptions, tradingLayer } from "./Trading.js"

export type { TradingOptions } from "./Trading.js"
export type { FillModel } from "./BacktestFills.js"
export type { RoundTrip } from "./BacktestStatistics.js"
export type { EquityCurves } from "./BacktestTracker.js"

export { source } from "./internal/BacktestDriver.js"

export interface BacktestOptions extends TradingOptions {
  /** A candle file (Binance's kline CSV, a `[time,o,h,l,c,v]` JSON array, a recorded journal), a stream or an array of candles. */
  readonly candles: string | Stream.Stream<Candle, unknown> | ReadonlyArray<Candle>
  /** Required: the strategy under test. */
  readonly strategy: Layer.Layer<Strategy>
  /** The candles' symbol: a file's name prefix by default, or the stream's (the array's) first candle's. */
  readonly symbol?: string
  /** The candles' interval: from a file's name or spacing by default, or the stream's (the array's) first candle's. */
  readonly interval?: string
  /** A file: fail on the first malformed row instead of skipping it. */
  readonly strict?: boolean
  /** The account's starting equity in the quote asset, for the returns and drawdowns. Default 10000. */
  readonly capital?: string | number
  /** When an order fills: at the next candle's open (the default) or at the close it was decided on. */
  readonly fill?: FillModel
  /**
   * true (the default): one candle at a time, the next once everything it caused (signals, orders, fills,
   * positions) is handled, as if each candle lasted long enough for the pipeline: the results do not depend
   * on the machine's speed. false: as fast as the data queue takes them, in chunks of `chunkSize`; the
   * strategy sees the same candles, but orders may pile up (`maxOpenOrders`) and fill a few candles late.
   */
  readonly lockstep?: boolean
  /** Candles published per batch without lockstep; the data queue is given at least this capacity. Default 256. */
  readonly chunkSize?: number
  /** More subscribers on the bus, subscribed after the engine's and before the first candle. */
  readonly plugins?: Layer.Layer<never, never, EventBus | Portfolio>
}

/** A backtest setting that cannot work (`capital`, `fill`); the command line checks its flags before. */
export class BacktestConfigError extends Data.TaggedError("BacktestConfigError")<{
  readonly setting: string
  readonly value: unknown
  readonly reason: string
}> {
  override get message() {
    return `invalid backtest setting ${this.setting}=${String(this.value)}: ${this.reason}`
  }
}

/**
 * What a backtest reports; every statistic is defined in docs/BACKTESTS.md. Money is in the quote asset
 * (`quoteAsset`), fees included, as exact decimal strings; ratios and percentages are numbers.
 * - `roundTrips`: a round trip opens when a symbol's position leaves 0 and closes when it returns to 0 or
 *   flips sign (a flip closes one and opens the next); its P&L is the change of the symbol's realized P&L
 *   over it, the fees of its fills included (a flipping fill's fee counts for the trip it closes).
 *   `winRate` = round trips with P&L > 0 / closed round trips (null when none closed).
 * - Equity after each candle = capital + realized + unrealized P&L marked at its close, read once the
 *   candle and all it caused are handled. `maxDrawdown` (quote) and `maxDrawdownPct` (% of the peak) are
 *   the largest fall from the running peak of equity, the peak starting at the capital.
 */
export interface BacktestReport extends Omit<Statistics.TradeStatistics, "roundTrips" | "wins" | "winRate">, Statistics.EquityStatistics {
  readonly file: string
  readonly symbol: string
  readonly interval: string
  /** The symbol's quote asset ("BTC" for ADABTC), "quote" when it is not a known one. */
  readonly quoteAsset: string
  /** Decimals of the symbol's prices, as the candles show them (at most 8), and of the fills' quantities. */
  readonly priceDecimals: number
  readonly quantityDecimals: number
  readonly fill: FillModel
  readonly from: number
  readonly to: number
  readonly candles: number
  readonly malformed: number
  /** Candles the sliding data queue pushed out: a backtest must lose none, so this is 0. */
  readonly dropped: number
  readonly signals: number
  readonly orders: number
  readonly fills: number
  /** Orders rejected, the unfilled ones included. */
  readonly rejected: number
  /** Orders decided on the last candle, left without a next open to fill at (`fill: "next-open"`). */
  readonly unfilledOrders: number
  readonly errors: number
  readonly roundTrips: number
  readonly wins: number
  readonly winRate: number | null
  readonly capital: string
  readonly finalEquity: string
  readonly realizedPnl: string
  readonly unrealizedPnl: string
  readonly totalPnl: string
  readonly feesPaid: string
  readonly buyAndHoldPct: number
  readonly exposurePct: number
  readonly elapsedMs: number
  readonly candlesPerSecond: number
}

/** What `runDetailed` gives: the report, the curves, every fill and every closed round trip. */
export interface BacktestDetails {
  readonly report: BacktestReport
  readonly curves: EquityCurves
  readonly fills: ReadonlyArray<Fill>
  readonly trips: ReadonlyArray<Statistics.RoundTrip>
}

const settings = (options: BacktestOptions) =>
  Effect.gen(function*() {
    const capitalText = String(options.capital ?? "10000")
    const capital = BigDecimal.fromString(capitalText.trim())
    if (capital._tag === "None" || !BigDecimal.isPositive(capital.value)) {
      return yield* Effect.fail(new BacktestConfigError({ setting: "capital", value: options.capital, reason: "must be a decimal above 0" }))
    }
    const fill = options.fill ?? "next-open"
    if (!fillModels.includes(fill)) {
      return yield* Effect.fail(new BacktestConfigError({ setting: "fill", value: fill, reason: `must be ${fillModels.join(" or ")}` }))
    }
    return { capital: BigDecimal.normalize(capital.value), fill }
  })

/**
 * Runs candles through the same engine as `trading-bus run` (the bus, strategy, order manager, paper broker
 * and portfolio), then closes it (the bus drains) and returns the report with the fills and trips, and the
 * curves when `keepCurves` (without, a million candles keep one column of numbers instead of five).
 */
const runWith = (options: BacktestOptions, keepCurves: boolean) =>
  Effect.gen(function*() {
    const { capital, fill } = yield* settings(options)
    const chunkSize = Math.max(1, options.chunkSize ?? 256)
    const capacity = Math.max(4 * chunkSize, 1024)
    const lockstep = options.lockstep ?? true
    const counter: PublishCounter = { data: 0, pipeline: 0 }
    // the barrier and the fills know each other: a held order can settle the pipeline
    let held = () => {}
    const fills = makeBacktestFills(fill, () => held())
    const lockstepWait = lockstep ? makePipelineBarrier(counter, fills.held, fills.released) : undefined
    if (lockstepWait !== undefined) held = lockstepWait.held
    const room = makeRoomGate()
    const series = makeSeriesStats()
    const started = yield* Clock.currentTimeMillis
    const { content, context, tracker } = yield* Effect.scoped(Effect.gen(function*() {
      const content = yield* seriesOf(options)
      // the bus first: it closes last, once the engine's finalizers ran, and drains
      const bus = yield* Layer.build(countingBus(counter).pipe(
        Layer.provide(MemoryEventBus.layer({ dataCapacity: capacity, drainTimeout: "60 seconds" })),
        Layer.provide(lockstepWait?.hooks ?? Layer.empty)
      ))
      const driver: Driver = { bus: Context.get(bus, EventBus), fills, counter }
      const barrier = lockstepWait?.barrier
      const tracker = makeTracker(content.symbol, barrier, keepCurves)
      const engine = tracker.layer.pipe(
        Layer.provideMerge(options.plugins ?? Layer.empty),
        // the process's metrics are a live engine's: a backtest's orders and positions stay in its report
        Layer.provideMerge(tradingLayer(options, options.strategy, fills.execution, undefined, { metrics: false })),
        Layer.provideMerge(openOnCandles(fills, room, barrier)),
        Layer.provideMerge(Layer.succeedContext(bus))
      )
      const context = yield* Layer.build(engine)
      yield* Effect.logInfo(
        `backtest: ${content.symbol} ${content.interval} candles from ${content.path}, fills at the ${
          fill === "close" ? "decision's close" : "next open"
        }${lockstep ? "" : `, chunks of ${chunkSize}`}`
      )
      yield* publishCandles(driver, content, series, room, chunkSize, lockstep)
      return { content, context, tracker }
    }))
    // the scope is closed: the bus has drained, every fill is applied
    const elapsedMs = (yield* Clock.currentTimeMillis) - started
    const stats = yield* Context.get(context, EventBus).stats
    const counters = yield* Context.get(context, EngineStats).snapshot
    const pnl = yield* Context.get(context, Portfolio).pnl
    const total = BigDecimal.sum(pnl.realized, pnl.unrealized)
    if (stats.data.dropped > 0) yield* Effect.logError(`backtest: the data queue dropped ${stats.data.dropped} candles`)
    if (fills.unfilled() > 0) yield* Effect.logWarning(`backtest: ${fills.unfilled()} orders decided on the last candle stay unfilled`)
    const capitalNumber = BigDecimal.unsafeToNumber(capital)
    // the stream ran: it had a first candle, or it failed
    const first = series.stats.first!
    const last = series.stats.last!
    const intervalMs = CandleFile.intervalMillis(content.interval) ?? (first.closeTime - first.openTime + 1)
    // the P&L curve offset by the capital, not a second curve
    const perYear = Statistics.periodsPerYear(intervalMs)
    const equity = Statistics.equityStatistics(capitalNumber, tracker.equityView(), perYear, capitalNumber)
    const finalEquity = BigDecimal.sum(capital, total)
    const { roundTrips, winRate, wins, ...trades } = Statistics.tradeStatistics(tracker.trips)
    const quantityDecimals = tracker.fills.reduce((m, f) => Math.max(m, BigDecimal.normalize(f.quantity).scale), 0)
    const report: BacktestReport = {
      file: content.path,
      symbol: content.symbol,
      interval: content.interval,
      quoteAsset: quoteAssetOf(content.symbol),
      priceDecimals: series.precision.decimals(),
      quantityDecimals: Math.min(8, quantityDecimals),
      fill,
      from: first.openTime,
      to: last.closeTime,
      candles: series.stats.count,
      malformed: content.malformed.length,
      dropped: stats.data.dropped,
      signals: counters.signals,
      orders: counters.orders,
      fills: counters.fills,
      rejected: counters.rejected,
      unfilledOrders: fills.unfilled(),
      errors: counters.errors,
      roundTrips,
      wins,
      winRate,
      capital: formatDecimal(capital),
      finalEquity: formatDecimal(BigDecimal.normalize(finalEquity)),
      realizedPnl: formatDecimal(pnl.realized),
      unrealizedPnl: formatDecimal(pnl.unrealized),
      totalPnl: formatDecimal(BigDecimal.normalize(total)),
      feesPaid: formatDecimal(BigDecimal.normalize(tracker.fills.reduce((sum, f) => BigDecimal.sum(sum, f.fee), BigDecimal.fromBigInt(0n)))),
      ...equity,
      // from the exact final equity (after the drain), the same as the last candle's in lockstep
      totalReturnPct: (BigDecimal.unsafeToNumber(finalEquity) / capitalNumber - 1) * 100,
      buyAndHoldPct: Statistics.buyAndHoldPct([first.close, last.close]),
      exposurePct: tracker.exposurePct(),
      ...trades,
      elapsedMs,
      candlesPerSecond: Math.round((series.stats.count * 1000) / Math.max(1, elapsedMs))
    }
    return { report, curves: tracker.curves, fills: tracker.fills, trips: tracker.trips }
  }).pipe(Effect.provide(NodeFileSystem.layer))

/** Why a backtest could not run: its candles (`CandleFileError`), a setting (`BacktestConfigError`, a layer's config error). */
export type BacktestError = Effect.Effect.Error<ReturnType<typeof runWith>>

/**
 * Runs candles through the same engine as `trading-bus run` (the bus, strategy, order manager, paper broker
 * and portfolio), then closes it (the bus drains) and returns the report with the curves, fills and trips.
 */
export const runDetailed = (options: BacktestOptions): Effect.Effect<BacktestDetails, BacktestError> =>
  Effect.map(runWith(options, true), ({ curves, ...details }) => {
    // the curves as arrays only when read (five arrays of a number per candle)
    let arrays: EquityCurves | undefined
    return {
      ...details,
      get curves() {
        return arrays ??= curves()! // kept: made with keepCurves
      }
    }
  })

/** Runs candles through the engine and returns the report: the same data `trading-bus backtest` prints. */
export const run = (options: BacktestOptions): Effect.Effect<BacktestReport, BacktestError> =>
  Effect.map(runWith(options, false), (r) => r.report)
