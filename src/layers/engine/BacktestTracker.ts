import { BigDecimal, Context, Effect, Layer } from "effect"
import type { Candle } from "../../domain/Candle.js"
import { add, lastToNumber, normalize, toNumber } from "../../domain/Decimal.js"
import type { Fill } from "../../domain/Order.js"
import { EventBus } from "../../services/EventBus.js"
import type { Position } from "../../domain/Position.js"
import { type PnL, Portfolio } from "../../services/Portfolio.js"
import { heldShare, type RoundTrip } from "./BacktestStatistics.js"

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

/** Tells whether the trading pipeline has handled all a candle caused, and waits until it has. */
export interface PipelineBarrier {
  readonly settled: () => boolean
  readonly await: Effect.Effect<void>
}

/**
 * Follows a backtest: every fill, the round trips, and the curves after each candle of `symbol`, sampled in a
 * CandleClosed handler subscribed after the engine's. With a `barrier` (lockstep), the sample waits until the
 * trading pipeline has handled everything the candle caused; without one it is read as the candle is handled.
 * Its fill handler is subscribed after the engine's too, so a fill is read once the portfolio has applied it.
 * Without `keepCurves` only the equity column is kept (the statistics need every value of it); the candles
 * holding a position are counted instead of kept.
 */
export const makeTracker = (symbol: string, barrier: PipelineBarrier | undefined, keepCurves: boolean) => {
  const equity = makeColumn()
  const columns = keepCurves ? { time: makeColumn(), realized: makeColumn(), close: makeColumn(), position: makeColumn() } : undefined
  let held = 0
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
        pnl: normalize(BigDecimal.subtract(realized, trip.realizedBefore))
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

  // realized P&L and the position change only at fills: converted once per change, not per candle
  const realizedNumber = lastToNumber()
  const quantityNumber = lastToNumber()
  const record = (candle: Candle, pnl: PnL, position: Position | undefined) => {
    const quantity = position === undefined ? 0 : quantityNumber(position.quantity)
    if (quantity !== 0) held++
    const realized = realizedNumber(pnl.realized)
    // flat, the equity is the realized P&L, already converted: the same number (each is the decimal's nearest),
    // without a sum and a conversion that, at a realized P&L's 18 digits, writes the digits out and parses them
    equity.push(pnl.unrealized.value === 0n ? realized : toNumber(add(pnl.realized, pnl.unrealized)))
    if (columns === undefined) return
    columns.time.push(candle.closeTime)
    columns.realized.push(realized)
    columns.close.push(candle.close)
    columns.position.push(quantity)
  }

  /** Reads the portfolio after a candle: synchronously when it can (no fiber step per candle). */
  const sample = (portfolio: Context.Tag.Service<Portfolio>, candle: Candle): Effect.Effect<void> => {
    const unsafe = portfolio.unsafe
    if (unsafe === undefined) {
      return Effect.zipWith(portfolio.pnl, portfolio.position(symbol), (pnl, position) => record(candle, pnl, position))
    }
    record(candle, unsafe.pnl(), unsafe.position(symbol))
    return Effect.void
  }

  const layer = Layer.scopedDiscard(Effect.gen(function*() {
    const bus = yield* EventBus
    const portfolio = yield* Portfolio
    yield* bus.subscribe("CandleClosed", ({ payload }) =>
      payload.symbol !== symbol
        ? Effect.void
        : barrier === undefined || barrier.settled()
        ? sample(portfolio, payload)
        : Effect.zipRight(barrier.await, Effect.suspend(() => sample(portfolio, payload))), { name: "backtest-equity" })
    const tripOf = (fill: Fill, position: Position | undefined) => {
      if (position !== undefined) onFill(fill, position.quantity, position.realizedPnl, position.averageEntryPrice)
    }
    const positionNow = portfolio.unsafe?.position
    yield* bus.subscribe("OrderFilled", ({ payload }) => {
      if (positionNow === undefined) return Effect.map(portfolio.position(payload.symbol), (position) => tripOf(payload, position))
      // read synchronously: no fiber step per fill
      tripOf(payload, positionNow(payload.symbol))
      return Effect.void
    }, { name: "backtest-trips" })
  }))

  /** The equity curve so far as a view of its column (no copy): for the statistics, read before the next candle. */
  const equityView = () => equity.view()

  /** The share of candles so far after which a position was held, in %. */
  const exposurePct = () => heldShare(held, equity.size())

  /** The curves so far, as arrays; undefined unless made with `keepCurves`. */
  const curves = (): EquityCurves | undefined =>
    columns === undefined ? undefined : {
      time: columns.time.toArray(),
      equity: equity.toArray(),
      realized: columns.realized.toArray(),
      close: columns.close.toArray(),
      position: columns.position.toArray()
    }

  return { layer, sample, curves, equityView, exposurePct, fills, trips }
}

/**
 * A growing column of numbers, 8 bytes each: a curve has a value per candle, and a million candles in plain
 * arrays took some 24 bytes a value (V8 kept them as boxed numbers).
 */
const makeColumn = () => {
  let values = new Float64Array(1024)
  let length = 0
  return {
    push: (value: number) => {
      if (length === values.length) {
        const grown = new Float64Array(values.length * 2)
        grown.set(values)
        values = grown
      }
      values[length++] = value
    },
    /** The values pushed: one per candle sampled. */
    size: () => length,
    toArray: (): Array<number> => Array.from(values.subarray(0, length)),
    view: (): Float64Array => values.subarray(0, length)
  }
}
