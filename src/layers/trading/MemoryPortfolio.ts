import { BigDecimal, Effect, Layer } from "effect"
import { divideToScale, normalize, subtract } from "../../domain/Decimal.js"
import { type Fill, positionChangeOf } from "../../domain/Order.js"
import type { Position } from "../../domain/Position.js"
import { Portfolio } from "../../services/Portfolio.js"

const zero = BigDecimal.fromBigInt(0n)

/** Decimals kept in an average entry price that does not terminate (100 / 3): far below any exchange tick, and few enough for `BigDecimal.format` to print plainly (it turns to exponents at 16). */
export const averagePriceScale = 15

/**
 * One symbol's book. `cost` is the exact signed entry cost of the open
 * quantity (positive long, negative short): unrealized P&L is
 * `quantity * mark - cost`, so realized + unrealized always equals the
 * fills' cash flows plus the open quantity at the mark, exactly, even when
 * the average entry price had to be rounded.
 */
interface Book {
  readonly quantity: BigDecimal.BigDecimal
  readonly cost: BigDecimal.BigDecimal
  readonly averageEntryPrice: BigDecimal.BigDecimal
  readonly realizedPnl: BigDecimal.BigDecimal
  readonly updatedAt: number
}

const average = (cost: BigDecimal.BigDecimal, quantity: BigDecimal.BigDecimal) =>
  divideToScale(BigDecimal.abs(cost), BigDecimal.abs(quantity), averagePriceScale, "half-even")

const n = normalize

/**
 * Applies one fill to a book (average-cost accounting):
 * - adding to a position (or opening one) adds `qty * price` to the cost and re-averages the entry;
 * - reducing realizes `(exit - entry) * qty` for a long, `(entry - exit) * qty` for a short, and
 *   leaves the average entry unchanged; closing all of it releases the whole remaining cost;
 * - a fill larger than the position closes it and opens the rest the other way at the fill's price.
 * The fee of every fill, opening or closing, is deducted from realized P&L when the fill is applied.
 */
export const applyToBook = (book: Book | undefined, fill: Fill): Book => {
  const quantity = book?.quantity ?? zero
  const cost = book?.cost ?? zero
  const signed = positionChangeOf(fill)
  const price = fill.price
  let realized = BigDecimal.subtract(book?.realizedPnl ?? zero, fill.fee)
  let nextQuantity: BigDecimal.BigDecimal
  let nextCost: BigDecimal.BigDecimal
  let nextAverage = book?.averageEntryPrice ?? zero

  if (BigDecimal.isZero(quantity) || BigDecimal.sign(quantity) === BigDecimal.sign(signed)) {
    nextQuantity = BigDecimal.sum(quantity, signed)
    nextCost = BigDecimal.sum(cost, BigDecimal.multiply(signed, price))
    nextAverage = average(nextCost, nextQuantity)
  } else {
    const held = BigDecimal.abs(quantity)
    const traded = BigDecimal.abs(signed)
    const closes = BigDecimal.min(held, traded)
    const closesAll = BigDecimal.greaterThanOrEqualTo(traded, held)
    // the entry cost this fill takes off the book, signed like the position
    const released = closesAll
      ? cost
      : BigDecimal.multiply(BigDecimal.multiply(nextAverage, closes), BigDecimal.make(BigInt(BigDecimal.sign(quantity)), 0))
    // cash in from the closing part: a sell of a long brings +qty*price, a buy back of a short costs it
    const closingCash = BigDecimal.multiply(BigDecimal.multiply(closes, price), BigDecimal.make(BigInt(BigDecimal.sign(quantity)), 0))
    realized = BigDecimal.sum(realized, BigDecimal.subtract(closingCash, released))
    nextQuantity = BigDecimal.sum(quantity, signed)
    if (BigDecimal.isZero(nextQuantity)) {
      nextCost = zero
      nextAverage = zero
    } else if (closesAll) {
      // flipped through zero: what is left is a fresh position at this fill's price
      nextCost = BigDecimal.multiply(nextQuantity, price)
      nextAverage = price
    } else {
      nextCost = BigDecimal.subtract(cost, released)
    }
  }
  return {
    quantity: n(nextQuantity),
    cost: n(nextCost),
    averageEntryPrice: n(nextAverage),
    realizedPnl: n(realized),
    updatedAt: fill.filledAt
  }
}

const unrealizedOf = (book: Book, mark: BigDecimal.BigDecimal) =>
  n(subtract(BigDecimal.multiply(book.quantity, mark), book.cost))

/** A symbol's book at its mark, with what is read from it on every candle computed once per change. */
interface Marked {
  readonly book: Book
  readonly mark: BigDecimal.BigDecimal
  readonly position: Position
}

const marked = (symbol: string, book: Book, mark: BigDecimal.BigDecimal, updatedAt = book.updatedAt): Marked => ({
  book,
  mark,
  position: {
    symbol,
    quantity: book.quantity,
    averageEntryPrice: book.averageEntryPrice,
    markPrice: mark,
    realizedPnl: book.realizedPnl,
    unrealizedPnl: unrealizedOf(book, mark),
    updatedAt
  }
})

/**
 * The state lives in plain maps changed inside `Effect.sync`: each change runs to its end before any other
 * fiber runs, as a `Ref.modify` would, without copying the maps on every candle. Positions and the P&L are
 * read on every candle by the strategy, the marks and the metrics, so each is computed when a fill or a mark
 * changes it, not when it is read.
 */
const make = Effect.sync(() => {
  const symbols = new Map<string, Marked>()
  // a symbol never filled may be marked before its first fill: the mark waits for its book
  const marks = new Map<string, BigDecimal.BigDecimal>()
  let pnl: { readonly realized: BigDecimal.BigDecimal; readonly unrealized: BigDecimal.BigDecimal } | undefined
  const total = () => {
    if (pnl !== undefined) return pnl
    if (symbols.size === 1) {
      // one symbol (a backtest): its own figures, already normalized, without adding them to zero
      const [{ position }] = symbols.values()
      pnl = { realized: position.realizedPnl, unrealized: position.unrealizedPnl }
      return pnl
    }
    let realized = zero
    let unrealized = zero
    for (const { position } of symbols.values()) {
      realized = BigDecimal.sum(realized, position.realizedPnl)
      unrealized = BigDecimal.sum(unrealized, position.unrealizedPnl)
    }
    pnl = { realized: n(realized), unrealized: n(unrealized) }
    return pnl
  }
  const markToMarket = (symbol: string, price: BigDecimal.BigDecimal, at: number) => {
    const mark = n(price)
    marks.set(symbol, mark)
    const current = symbols.get(symbol)
    if (current === undefined) return undefined
    // an open position is updated at the mark's time (the book itself does not change); a flat one keeps its time,
    // and the same mark on it changes nothing
    const flat = BigDecimal.isZero(current.book.quantity)
    const next = flat && BigDecimal.equals(mark, current.mark)
      ? current
      : marked(symbol, current.book, mark, flat ? current.position.updatedAt : at)
    if (next !== current) {
      symbols.set(symbol, next)
      pnl = undefined
    }
    return BigDecimal.isZero(next.position.quantity) ? undefined : next.position
  }
  const position = (symbol: string) => symbols.get(symbol)?.position
  const applyFill = (fill: Fill) => {
    const book = applyToBook(symbols.get(fill.symbol)?.book, fill)
    // a symbol never marked is marked at its first fill's price
    const mark = marks.get(fill.symbol) ?? n(fill.price)
    marks.set(fill.symbol, mark)
    const next = marked(fill.symbol, book, mark)
    symbols.set(fill.symbol, next)
    pnl = undefined
    return next.position
  }
  return Portfolio.of({
    applyFill: (fill) => Effect.sync(() => applyFill(fill)),
    markToMarket: (symbol, price, at) => Effect.sync(() => markToMarket(symbol, price, at)),
    position: (symbol) => Effect.sync(() => position(symbol)),
    positions: Effect.sync(() => Array.from(symbols.values(), (s) => s.position)),
    pnl: Effect.sync(total),
    unsafe: { markToMarket, position, pnl: total, applyFill }
  })
})

/**
 * Positions in memory: signed net quantity per symbol, average-cost entry,
 * realized P&L net of every fee, unrealized P&L at the symbol's last mark
 * (or its first fill's price until it is marked). A symbol closed to zero keeps
 * its position (quantity 0) for its realized P&L; `markToMarket` returns a
 * position only while its quantity is not zero.
 */
export const layer: Layer.Layer<Portfolio> = Layer.effect(Portfolio, make)
