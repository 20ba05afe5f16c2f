import { BigDecimal, Context, Effect, Layer } from "effect"
import type { Candle } from "../../domain/Candle.js"
import type { Fill } from "../../domain/Order.js"
import { EventBus } from "../../services/EventBus.js"
import { Portfolio } from "../../services/Portfolio.js"
import type { RoundTrip } from "./BacktestStatistics.js"

/** A backtest's curves, one entry per candle in each array, read after the candle and all it caused. */
export interface EquityCurves {
  /** The candle's close time. */
  readonly time: Array<number>
  /** Realized + unrealized P&L (without the capital). */
  readonly equity: Array<number>
  readonly realized: Array<number>
  readonly close: Array<number>
  /** The net position of the backtest's symbol. */
  readonly position: Array<number>
}

const zero = BigDecimal.fromBigInt(0n)

interface Book {
  readonly quantity: BigDecimal.BigDecimal
  readonly realized: BigDecimal.BigDecimal
  readonly averageEntry: BigDecimal.BigDecimal
  /** The open trip: realized P&L before its opening fill, its time and largest |position|. */
  readonly trip?: { readonly realizedBefore: BigDecimal.BigDecimal; readonly openedAt: number; readonly largest: BigDecimal.BigDecimal }
}

/**
 * Follows a backtest: every fill, the round trips, and (`sample`) the curves after each candle. Its bus
 * handlers are subscribed after the engine's, so a fill is read once the portfolio has applied it.
 * `sampleOnCandles`: sample in a CandleClosed handler (chunked runs); otherwise the backtest loop calls
 * `sample` once the pipeline is idle after each candle.
 */
export const makeTracker = (symbol: string, sampleOnCandles: boolean) => {
  const curves: EquityCurves = { time: [], equity: [], realized: [], close: [], position: [] }
  const fills: Array<Fill> = []
  const trips: Array<RoundTrip> = []
  const books = new Map<string, Book>()

  const onFill = (fill: Fill, quantity: BigDecimal.BigDecimal, realized: BigDecimal.BigDecimal, averageEntry: BigDecimal.BigDecimal) => {
    fills.push(fill)
    const book = books.get(fill.symbol) ?? { quantity: zero, realized: zero, averageEntry: zero }
    const before = BigDecimal.sign(book.quantity)
    const after = BigDecimal.sign(quantity)
    let trip = book.trip
    // a trip closes when the position returns to 0 or flips sign (a flip closes one and opens the next)
    if (before !== 0 && after !== before && trip !== undefined) {
      trips.push({
        symbol: fill.symbol,
        side: before > 0 ? "long" : "short",
        openedAt: trip.openedAt,
        closedAt: fill.filledAt,
        quantity: BigDecimal.max(trip.largest, BigDecimal.abs(book.quantity)),
        entryPrice: book.averageEntry,
        exitPrice: fill.price,
        pnl: BigDecimal.normalize(BigDecimal.subtract(realized, trip.realizedBefore))
      })
      trip = undefined
    } else if (trip !== undefined) {
      trip = { ...trip, largest: BigDecimal.max(trip.largest, BigDecimal.abs(quantity)) }
    }
    // a trip's P&L starts before its opening fill, so that fill's fee counts; after a flip, from the flip
    if (after !== 0 && after !== before) {
      trip = { realizedBefore: before === 0 ? book.realized : realized, openedAt: fill.filledAt, largest: BigDecimal.abs(quantity) }
    }
    books.set(fill.symbol, trip === undefined ? { quantity, realized, averageEntry } : { quantity, realized, averageEntry, trip })
  }

  const sample = (portfolio: Context.Tag.Service<Portfolio>, candle: Candle) =>
    Effect.zipWith(portfolio.pnl, portfolio.position(symbol), (pnl, position) => {
      curves.time.push(candle.closeTime)
      curves.equity.push(BigDecimal.unsafeToNumber(BigDecimal.sum(pnl.realized, pnl.unrealized)))
      curves.realized.push(BigDecimal.unsafeToNumber(pnl.realized))
      curves.close.push(candle.close)
      curves.position.push(position === undefined ? 0 : BigDecimal.unsafeToNumber(position.quantity))
    })

  const layer = Layer.scopedDiscard(Effect.gen(function*() {
    const bus = yield* EventBus
    const portfolio = yield* Portfolio
    if (sampleOnCandles) {
      yield* bus.subscribe("CandleClosed", ({ payload }) =>
        payload.symbol === symbol ? sample(portfolio, payload) : Effect.void, { name: "backtest-equity" })
    }
    yield* bus.subscribe("OrderFilled", ({ payload }) =>
      Effect.map(portfolio.position(payload.symbol), (position) => {
        if (position !== undefined) onFill(payload, position.quantity, position.realizedPnl, position.averageEntryPrice)
      }), { name: "backtest-trips" })
  }))

  return { layer, sample, curves, fills, trips }
}
