import { BigDecimal, Effect, Layer, Ref } from "effect"
import type { Fill } from "../../domain/Order.js"
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

interface State {
  readonly books: ReadonlyMap<string, Book>
  readonly marks: ReadonlyMap<string, BigDecimal.BigDecimal>
}

const average = (cost: BigDecimal.BigDecimal, quantity: BigDecimal.BigDecimal) =>
  BigDecimal.normalize(
    BigDecimal.round(BigDecimal.unsafeDivide(BigDecimal.abs(cost), BigDecimal.abs(quantity)), {
      scale: averagePriceScale,
      mode: "half-even"
    })
  )

const n = BigDecimal.normalize

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
  const signed = fill.side === "BUY" ? fill.quantity : BigDecimal.negate(fill.quantity)
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
  n(BigDecimal.subtract(BigDecimal.multiply(book.quantity, mark), book.cost))

const toPosition = (symbol: string, book: Book, mark: BigDecimal.BigDecimal): Position => ({
  symbol,
  quantity: book.quantity,
  averageEntryPrice: book.averageEntryPrice,
  markPrice: mark,
  realizedPnl: book.realizedPnl,
  unrealizedPnl: unrealizedOf(book, mark),
  updatedAt: book.updatedAt
})

const positionOf = (state: State, symbol: string): Position | undefined => {
  const book = state.books.get(symbol)
  return book === undefined ? undefined : toPosition(symbol, book, state.marks.get(symbol) ?? book.averageEntryPrice)
}

const make = Effect.map(
  Ref.make<State>({ books: new Map(), marks: new Map() }),
  (ref) =>
    Portfolio.of({
      applyFill: (fill) =>
        Ref.modify(ref, (state) => {
          const books = new Map(state.books).set(fill.symbol, applyToBook(state.books.get(fill.symbol), fill))
          // a symbol never marked is marked at its first fill's price
          const marks = state.marks.has(fill.symbol)
            ? state.marks
            : new Map(state.marks).set(fill.symbol, n(fill.price))
          const next = { books, marks }
          return [positionOf(next, fill.symbol)!, next]
        }),
      markToMarket: (symbol, price, at) =>
        Ref.modify(ref, (state) => {
          const marks = new Map(state.marks).set(symbol, n(price))
          const book = state.books.get(symbol)
          const books = book === undefined || BigDecimal.isZero(book.quantity)
            ? state.books
            : new Map(state.books).set(symbol, { ...book, updatedAt: at })
          const next = { books, marks }
          const position = positionOf(next, symbol)
          return [position !== undefined && !BigDecimal.isZero(position.quantity) ? position : undefined, next]
        }),
      position: (symbol) => Effect.map(Ref.get(ref), (state) => positionOf(state, symbol)),
      positions: Effect.map(
        Ref.get(ref),
        (state) => Array.from(state.books.keys(), (symbol) => positionOf(state, symbol)!)
      ),
      pnl: Effect.map(Ref.get(ref), (state) => {
        let realized = zero
        let unrealized = zero
        for (const [symbol, book] of state.books) {
          realized = BigDecimal.sum(realized, book.realizedPnl)
          unrealized = BigDecimal.sum(unrealized, unrealizedOf(book, state.marks.get(symbol) ?? book.averageEntryPrice))
        }
        return { realized: n(realized), unrealized: n(unrealized) }
      })
    })
)

/**
 * Positions in memory: signed net quantity per symbol, average-cost entry,
 * realized P&L net of every fee, unrealized P&L at the symbol's last mark
 * (or its first fill's price until it is marked). A symbol closed to zero keeps
 * its position (quantity 0) for its realized P&L; `markToMarket` returns a
 * position only while its quantity is not zero.
 */
export const layer: Layer.Layer<Portfolio> = Layer.effect(Portfolio, make)
