/**
 * A symbol's order filters from `exchangeInfo` (filters.md), and an order
 * rounded to them before it is sent: quantity down to the step, a price to
 * the tick in the order's favour, then the checks Binance would make, so
 * that an order it would refuse is refused here, naming the filter.
 */
import { BigDecimal, Either, Schema } from "effect"
import { formatDecimal } from "../../../../domain/Decimal.js"

const Dec = Schema.BigDecimal

const SymbolInfo = Schema.Struct({
  symbol: Schema.String,
  status: Schema.String,
  baseAsset: Schema.String,
  quoteAsset: Schema.String,
  filters: Schema.Array(Schema.Struct({ filterType: Schema.String }, { key: Schema.String, value: Schema.Unknown }))
})

/** The part of `GET /api/v3/exchangeInfo` the broker reads. */
export const ExchangeInfo = Schema.Struct({ symbols: Schema.Array(SymbolInfo) })

const PriceFilter = Schema.Struct({ minPrice: Dec, maxPrice: Dec, tickSize: Dec })
const LotSize = Schema.Struct({ minQty: Dec, maxQty: Dec, stepSize: Dec })
const Notional = Schema.Struct({
  minNotional: Dec,
  maxNotional: Schema.optional(Dec),
  applyMinToMarket: Schema.optional(Schema.Boolean),
  applyMaxToMarket: Schema.optional(Schema.Boolean)
})
const MinNotional = Schema.Struct({ minNotional: Dec, applyToMarket: Schema.optional(Schema.Boolean) })

export interface SymbolFilters {
  readonly symbol: string
  readonly baseAsset: string
  readonly quoteAsset: string
  readonly price?: typeof PriceFilter.Type
  readonly lot?: typeof LotSize.Type
  readonly marketLot?: typeof LotSize.Type
  /** NOTIONAL, or the older MIN_NOTIONAL (named, as Binance names the one an order fails). */
  readonly minNotional?: {
    readonly filter: "NOTIONAL" | "MIN_NOTIONAL"
    readonly min: BigDecimal.BigDecimal
    readonly max?: BigDecimal.BigDecimal
    /** Whether `min` applies to MARKET orders (applyMinToMarket, applyToMarket). */
    readonly market: boolean
    /** Whether `max` applies to MARKET orders (applyMaxToMarket). */
    readonly maxMarket: boolean
  }
}

const decodeFilter = <A, I>(schema: Schema.Schema<A, I>, filter: unknown): A | undefined =>
  Either.getOrUndefined(Schema.decodeUnknownEither(schema)(filter))

/** The filters of every symbol in an `exchangeInfo` answer, by symbol. */
export const parseExchangeInfo = (info: typeof ExchangeInfo.Type): ReadonlyMap<string, SymbolFilters> =>
  new Map(info.symbols.map((s) => {
    const find = (type: string) => s.filters.find((f) => f.filterType === type)
    const notional = decodeFilter(Notional, find("NOTIONAL"))
    const old = decodeFilter(MinNotional, find("MIN_NOTIONAL"))
    const price = decodeFilter(PriceFilter, find("PRICE_FILTER"))
    const lot = decodeFilter(LotSize, find("LOT_SIZE"))
    const marketLot = decodeFilter(LotSize, find("MARKET_LOT_SIZE"))
    const filters: SymbolFilters = {
      symbol: s.symbol,
      baseAsset: s.baseAsset,
      quoteAsset: s.quoteAsset,
      ...(price === undefined ? {} : { price }),
      ...(lot === undefined ? {} : { lot }),
      ...(marketLot === undefined ? {} : { marketLot }),
      ...(notional !== undefined
        ? {
          minNotional: {
            filter: "NOTIONAL",
            min: notional.minNotional,
            ...(notional.maxNotional === undefined ? {} : { max: notional.maxNotional }),
            market: notional.applyMinToMarket ?? true,
            maxMarket: notional.applyMaxToMarket ?? false
          }
        }
        : old !== undefined
        ? { minNotional: { filter: "MIN_NOTIONAL", min: old.minNotional, market: old.applyToMarket ?? true, maxMarket: false } }
        : {})
    }
    return [s.symbol, filters] as const
  }))

const positive = (d: BigDecimal.BigDecimal) => BigDecimal.isPositive(d)

/** Rounds to a multiple of `step` ("floor" or "ceil"); a zero step disables the rule. */
export const toStep = (d: BigDecimal.BigDecimal, step: BigDecimal.BigDecimal, mode: "floor" | "ceil") => {
  if (!positive(step)) return d
  const units = BigDecimal.round(BigDecimal.unsafeDivide(d, step), { scale: 0, mode })
  return BigDecimal.normalize(BigDecimal.multiply(units, step))
}

export interface Rounded {
  readonly quantity: BigDecimal.BigDecimal
  /** The limit price on the tick; undefined for a MARKET order. */
  readonly price: BigDecimal.BigDecimal | undefined
}

export interface FilterFailure {
  readonly filter: "PRICE_FILTER" | "LOT_SIZE" | "MARKET_LOT_SIZE" | "NOTIONAL" | "MIN_NOTIONAL"
  readonly message: string
}

const lotFailure = (
  filter: "LOT_SIZE" | "MARKET_LOT_SIZE",
  lot: typeof LotSize.Type,
  quantity: BigDecimal.BigDecimal
): FilterFailure | undefined => {
  if (BigDecimal.lessThan(quantity, lot.minQty) || !positive(quantity)) {
    return { filter, message: `quantity ${formatDecimal(quantity)} is below ${filter} minQty ${formatDecimal(lot.minQty)}` }
  }
  if (positive(lot.maxQty) && BigDecimal.greaterThan(quantity, lot.maxQty)) {
    return { filter, message: `quantity ${formatDecimal(quantity)} is above ${filter} maxQty ${formatDecimal(lot.maxQty)}` }
  }
  return undefined
}

/**
 * The order's quantity and price on the symbol's step and tick, or the filter it fails. `referencePrice` prices a
 * MARKET order's notional (the price it was sized with).
 */
export const roundOrder = (
  f: SymbolFilters,
  order: {
    readonly side: "BUY" | "SELL"
    readonly type: "MARKET" | "LIMIT"
    readonly quantity: BigDecimal.BigDecimal
    readonly price: BigDecimal.BigDecimal
  }
): Either.Either<Rounded, FilterFailure> => {
  const market = order.type === "MARKET"
  let quantity = order.quantity
  // never more than was sized: quantity rounds down, to the coarser of the two steps
  if (f.lot !== undefined) quantity = toStep(quantity, f.lot.stepSize, "floor")
  if (market && f.marketLot !== undefined) quantity = toStep(quantity, f.marketLot.stepSize, "floor")
  let price: BigDecimal.BigDecimal | undefined
  if (!market) {
    // a limit never worse than asked: a buy rounds down, a sell up
    price = f.price === undefined ? order.price : toStep(order.price, f.price.tickSize, order.side === "BUY" ? "floor" : "ceil")
    if (f.price !== undefined) {
      const { maxPrice, minPrice } = f.price
      if (
        !positive(price) || (positive(minPrice) && BigDecimal.lessThan(price, minPrice)) ||
        (positive(maxPrice) && BigDecimal.greaterThan(price, maxPrice))
      ) {
        return Either.left({
          filter: "PRICE_FILTER",
          message: `price ${formatDecimal(price)} is outside PRICE_FILTER ${formatDecimal(minPrice)}-${formatDecimal(maxPrice)}`
        })
      }
    }
  }
  const lot = f.lot === undefined ? undefined : lotFailure("LOT_SIZE", f.lot, quantity)
  if (lot !== undefined) return Either.left(lot)
  const marketLot = market && f.marketLot !== undefined ? lotFailure("MARKET_LOT_SIZE", f.marketLot, quantity) : undefined
  if (marketLot !== undefined) return Either.left(marketLot)
  const n = f.minNotional
  if (n !== undefined) {
    // a MARKET order's notional at the price it was sized with (Binance uses its average price)
    const notional = BigDecimal.multiply(quantity, price ?? order.price)
    if ((!market || n.market) && BigDecimal.lessThan(notional, n.min)) {
      return Either.left({
        filter: n.filter,
        message: `notional ${formatDecimal(notional)} is below ${n.filter} minNotional ${formatDecimal(n.min)}`
      })
    }
    if ((!market || n.maxMarket) && n.max !== undefined && BigDecimal.greaterThan(notional, n.max)) {
      return Either.left({
        filter: n.filter,
        message: `notional ${formatDecimal(notional)} is above ${n.filter} maxNotional ${formatDecimal(n.max)}`
      })
    }
  }
  return Either.right({ quantity, price })
}
