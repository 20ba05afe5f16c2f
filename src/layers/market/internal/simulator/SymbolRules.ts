/**
 * A simulated symbol's trading rules as Binance publishes them in
 * `exchangeInfo` (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL), the
 * checks an order must pass, and Binance's 8-decimal wire format.
 */
import { BigDecimal } from "effect"
import type { WalkSpec } from "./RandomWalk.js"

const quotes = ["FDUSD", "USDT", "USDC", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "JPY"]

export interface SymbolRules {
  readonly symbol: string
  readonly baseAsset: string
  readonly quoteAsset: string
  readonly priceDecimals: number
  readonly qtyDecimals: number
  readonly tickSize: BigDecimal.BigDecimal
  readonly minPrice: BigDecimal.BigDecimal
  readonly maxPrice: BigDecimal.BigDecimal
  readonly stepSize: BigDecimal.BigDecimal
  readonly minQty: BigDecimal.BigDecimal
  readonly maxQty: BigDecimal.BigDecimal
  readonly marketMaxQty: BigDecimal.BigDecimal
  readonly minNotional: BigDecimal.BigDecimal
  readonly maxNotional: BigDecimal.BigDecimal
}

const unit = (decimals: number) => BigDecimal.make(1n, decimals)

/** Binance-like rules for a walk: the tick and step of its decimals, a 5-quote minimum notional. */
export const rulesFor = (spec: WalkSpec): SymbolRules => {
  const quoteAsset = quotes.find((q) => spec.symbol.length > q.length && spec.symbol.endsWith(q)) ??
    spec.symbol.slice(-3)
  return {
    symbol: spec.symbol,
    baseAsset: spec.symbol.slice(0, spec.symbol.length - quoteAsset.length),
    quoteAsset,
    priceDecimals: spec.priceDecimals,
    qtyDecimals: spec.qtyDecimals,
    tickSize: unit(spec.priceDecimals),
    minPrice: unit(spec.priceDecimals),
    maxPrice: BigDecimal.make(1_000_000n, 0),
    stepSize: unit(spec.qtyDecimals),
    minQty: unit(spec.qtyDecimals),
    // BTCUSDT's 9000 at 5 quantity decimals; a tenth of it for market orders
    maxQty: BigDecimal.make(9n * 10n ** BigInt(8 - spec.qtyDecimals), 0),
    marketMaxQty: BigDecimal.make(9n * 10n ** BigInt(8 - spec.qtyDecimals), 1),
    minNotional: BigDecimal.make(5n, 0),
    maxNotional: BigDecimal.make(9_000_000n, 0)
  }
}

/** A decimal with exactly 8 places, as Binance sends amounts ("0.01000000"); extra places are cut. */
export const fixed8 = (d: BigDecimal.BigDecimal): string => {
  const { value } = BigDecimal.scale(d, 8)
  const negative = value < 0n
  const digits = (negative ? -value : value).toString().padStart(9, "0")
  return `${negative ? "-" : ""}${digits.slice(0, -8)}.${digits.slice(-8)}`
}

/** Rounds down to 8 places: commissions are never rounded up. */
export const floor8 = (d: BigDecimal.BigDecimal): BigDecimal.BigDecimal =>
  BigDecimal.round(d, { scale: 8, mode: "floor" })

const isMultiple = (d: BigDecimal.BigDecimal, step: BigDecimal.BigDecimal) =>
  BigDecimal.isZero(BigDecimal.unsafeRemainder(d, step))

/** A symbol's filters as `exchangeInfo` lists them. */
export const filtersJson = (r: SymbolRules) => [
  { filterType: "PRICE_FILTER", minPrice: fixed8(r.minPrice), maxPrice: fixed8(r.maxPrice), tickSize: fixed8(r.tickSize) },
  { filterType: "LOT_SIZE", minQty: fixed8(r.minQty), maxQty: fixed8(r.maxQty), stepSize: fixed8(r.stepSize) },
  { filterType: "MARKET_LOT_SIZE", minQty: fixed8(r.minQty), maxQty: fixed8(r.marketMaxQty), stepSize: fixed8(r.stepSize) },
  {
    filterType: "NOTIONAL",
    minNotional: fixed8(r.minNotional),
    applyMinToMarket: true,
    maxNotional: fixed8(r.maxNotional),
    applyMaxToMarket: false,
    avgPriceMins: 5
  }
]

/** One symbol of `GET /api/v3/exchangeInfo`, with Binance's fields. */
export const symbolJson = (r: SymbolRules) => ({
  symbol: r.symbol,
  status: "TRADING",
  baseAsset: r.baseAsset,
  baseAssetPrecision: 8,
  quoteAsset: r.quoteAsset,
  quotePrecision: 8,
  quoteAssetPrecision: 8,
  baseCommissionPrecision: 8,
  quoteCommissionPrecision: 8,
  orderTypes: ["LIMIT", "MARKET"],
  icebergAllowed: false,
  ocoAllowed: false,
  otoAllowed: false,
  quoteOrderQtyMarketAllowed: false,
  allowTrailingStop: false,
  cancelReplaceAllowed: false,
  amendAllowed: false,
  isSpotTradingAllowed: true,
  isMarginTradingAllowed: false,
  filters: filtersJson(r),
  permissions: [],
  permissionSets: [["SPOT"]],
  defaultSelfTradePreventionMode: "NONE",
  allowedSelfTradePreventionModes: ["NONE"]
})

/**
 * The first filter an order breaks, in Binance's order of checks, or undefined. A MARKET order has no price:
 * its notional is taken at `marketPrice`, as `applyMinToMarket` does with the last price.
 */
export const failedFilter = (
  r: SymbolRules,
  order: {
    readonly type: "LIMIT" | "MARKET"
    readonly quantity: BigDecimal.BigDecimal
    readonly price: BigDecimal.BigDecimal | undefined
  },
  marketPrice: BigDecimal.BigDecimal
): "PRICE_FILTER" | "LOT_SIZE" | "MARKET_LOT_SIZE" | "NOTIONAL" | undefined => {
  const { price, quantity } = order
  if (order.type === "LIMIT" && price !== undefined) {
    if (
      BigDecimal.lessThan(price, r.minPrice) || BigDecimal.greaterThan(price, r.maxPrice) ||
      !isMultiple(price, r.tickSize)
    ) return "PRICE_FILTER"
  }
  if (
    BigDecimal.lessThan(quantity, r.minQty) || BigDecimal.greaterThan(quantity, r.maxQty) ||
    !isMultiple(quantity, r.stepSize)
  ) return "LOT_SIZE"
  if (order.type === "MARKET" && BigDecimal.greaterThan(quantity, r.marketMaxQty)) return "MARKET_LOT_SIZE"
  const notional = BigDecimal.multiply(quantity, order.type === "LIMIT" && price !== undefined ? price : marketPrice)
  if (BigDecimal.lessThan(notional, r.minNotional)) return "NOTIONAL"
  if (order.type === "LIMIT" && BigDecimal.greaterThan(notional, r.maxNotional)) return "NOTIONAL"
  return undefined
}
