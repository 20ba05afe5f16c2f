// the module, not the package's index: a sweep's worker thread loads this file and need not load HTTP and sockets
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { BigDecimal, Clock, Context, Data, Effect, Layer, type Stream } from "effect"
import { type BusEvent, makeEventAt } from "../../domain/BusEvent.js"
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
import { priceDecimalsOf, quoteAssetOf } from "./SymbolInfo.js"
import { candlesOf, countingBus, processedOf } from "./internal/BacktestInput.js"
import { type TradingOptions, tradingLayer } from "./Trading.js"

export type { TradingOptions } from "./Trading.js"
export type { FillModel } from "./BacktestFills.js"
export type { RoundTrip } from "./BacktestStatistics.js"
export type { EquityCurves } from "./BacktestTracker.js"

/** The `source` of the candles a backtest publishes. */
export const source = "backtest"

export interface BacktestOptions extends TradingOptions {
  /** A candle file (Binance's kline CSV, a `[time,o,h,l,c,v]` JSON array, a recorded journal) or a stream of candles. */
  readonly candles: string | Stream.Stream<Candle, unknown>
  /** Required: the strategy under test. */
  readonly strategy: Layer.Layer<Strategy>
  /** The candles' symbol: a file's name prefix by default, or the stream's first candle's. */
  readonly symbol?: string
  /** The candles' interval: from a file's name or spacing by default, or the stream's first candle's. */
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

interface Driver {
  readonly bus: Context.Tag.Service<EventBus>
  readonly portfolio: Context.Tag.Service<Portfolio>
  readonly fills: ReturnType<typeof makeBacktestFills>
  readonly tracker: ReturnType<typeof makeTracker>
  readonly counter: { readonly published: number }
}

/**
 * Waits until the bus has handled all that was published (an event's handlers publish what follows from it
 * before it counts as processed), the orders held for their next open aside: the pipeline is idle.
 */
const idle = (d: Driver) =>
  Effect.gen(function*() {
    while (d.counter.published > processedOf(yield* d.bus.stats) + d.fills.held()) yield* Effect.yieldNow()
  })

/**
 * Publishes every candle as a CandleClosed. In lockstep, one at a time: the candle opens (the orders held
 * for it fill at its open), the pipeline idles, the candle closes, the pipeline idles, the curves are read.
 * Otherwise in chunks, the data queue emptied before each chunk so that the sliding queue drops nothing
 * (candles open in a CandleClosed handler subscribed before the engine's, and the curves are read there).
 * At the end the orders still held are unfilled (in chunks, those still waiting once the last candle opened).
 */
const publishCandles = (d: Driver, candles: ReadonlyArray<Candle>, options: { readonly lockstep: boolean; readonly chunkSize: number }) =>
  Effect.gen(function*() {
    if (options.lockstep) {
      for (const candle of candles) {
        yield* d.fills.open(candle)
        yield* idle(d)
        yield* d.bus.publish(makeEventAt("CandleClosed", candle, candle.closeTime, { source }))
        yield* idle(d)
        yield* d.tracker.sample(d.portfolio, candle)
      }
    } else {
      for (let start = 0; start < candles.length; start += options.chunkSize) {
        const events: Array<BusEvent> = candles.slice(start, start + options.chunkSize).map((candle) =>
          makeEventAt("CandleClosed", candle, candle.closeTime, { source })
        )
        while ((yield* d.bus.stats).data.size > 0) yield* Effect.yieldNow()
        yield* d.bus.publishAll(events)
      }
      // every candle handled: orders still waiting for an open (one may be queued behind a held one) stay unfilled
      while (d.fills.opened() < candles.length) yield* Effect.yieldNow()
    }
    yield* d.fills.end
    yield* idle(d)
  })

/** Candles open as their CandleClosed is handled, before the engine sees them (chunked runs). */
const openOnCandles = (fills: ReturnType<typeof makeBacktestFills>) =>
  Layer.scopedDiscard(Effect.flatMap(EventBus, (bus) =>
    bus.subscribe("CandleClosed", ({ payload }) => fills.open(payload), { name: "backtest-open" })))

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
 * and portfolio), then closes it (the bus drains) and returns the report with the curves, fills and trips.
 */
export const runDetailed = (options: BacktestOptions) =>
  Effect.gen(function*() {
    const { capital, fill } = yield* settings(options)
    const content = yield* candlesOf(options)
    const candles = content.candles
    const chunkSize = Math.max(1, options.chunkSize ?? 256)
    const lockstep = options.lockstep ?? true
    const tracker = makeTracker(content.symbol, !lockstep)
    const fills = makeBacktestFills(fill)
    const counter = { published: 0 }
    const bus = countingBus(counter).pipe(
      Layer.provide(MemoryEventBus.layer({ dataCapacity: Math.max(chunkSize, 1000), drainTimeout: "60 seconds" }))
    )
    const engine = tracker.layer.pipe(
      Layer.provideMerge(options.plugins ?? Layer.empty),
      Layer.provideMerge(tradingLayer(options, options.strategy, fills.execution)),
      Layer.provideMerge(lockstep ? Layer.empty : openOnCandles(fills)),
      Layer.provideMerge(bus)
    )
    const started = yield* Clock.currentTimeMillis
    const context = yield* Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(engine)
      yield* Effect.logInfo(
        `backtest: ${candles.length} ${content.symbol} ${content.interval} candles from ${content.path}, fills at the ${
          fill === "close" ? "decision's close" : "next open"
        }${lockstep ? "" : `, chunks of ${chunkSize}`}`
      )
      const driver = { bus: Context.get(ctx, EventBus), portfolio: Context.get(ctx, Portfolio), fills, tracker, counter }
      yield* publishCandles(driver, candles, { lockstep, chunkSize })
      return ctx
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
    const intervalMs = CandleFile.intervalMillis(content.interval) ?? (candles[0]!.closeTime - candles[0]!.openTime + 1)
    const curve = tracker.curves
    const equity = Statistics.equityStatistics(
      capitalNumber,
      curve.equity.map((e) => capitalNumber + e),
      Statistics.periodsPerYear(intervalMs)
    )
    const finalEquity = BigDecimal.sum(capital, total)
    const { roundTrips, winRate, wins, ...trades } = Statistics.tradeStatistics(tracker.trips)
    const quantityDecimals = tracker.fills.reduce((m, f) => Math.max(m, BigDecimal.normalize(f.quantity).scale), 0)
    const report: BacktestReport = {
      file: content.path,
      symbol: content.symbol,
      interval: content.interval,
      quoteAsset: quoteAssetOf(content.symbol),
      priceDecimals: priceDecimalsOf(candles),
      quantityDecimals: Math.min(8, quantityDecimals),
      fill,
      from: candles[0]!.openTime,
      to: candles[candles.length - 1]!.closeTime,
      candles: candles.length,
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
      buyAndHoldPct: Statistics.buyAndHoldPct(candles.map((c) => c.close)),
      exposurePct: Statistics.exposurePct(curve.position),
      ...trades,
      elapsedMs,
      candlesPerSecond: Math.round((candles.length * 1000) / Math.max(1, elapsedMs))
    }
    return { report, curves: curve, fills: tracker.fills, trips: tracker.trips } satisfies BacktestDetails
  }).pipe(Effect.provide(NodeFileSystem.layer))

/** Why a backtest could not run: its candles (`CandleFileError`), a setting (`BacktestConfigError`, a layer's config error). */
export type BacktestError = Effect.Effect.Error<ReturnType<typeof runDetailed>>

/** Runs candles through the engine and returns the report: the same data `trading-bus backtest` prints. */
export const run = (options: BacktestOptions): Effect.Effect<BacktestReport, BacktestError> =>
  Effect.map(runDetailed(options), (r) => r.report)
