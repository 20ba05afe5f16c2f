import { BigDecimal } from "effect"
import type { Candle } from "../../domain/Candle.js"
import { decimalFromNumber } from "../../domain/Decimal.js"

/** Quote assets Binance lists symbols against; the longest that ends a symbol is its quote (FDUSD before USD). */
export const knownQuotes: ReadonlyArray<string> = [
  "USDT", "BUSD", "USDC", "FDUSD", "TUSD", "USDP", "DAI", "USD", "BTC", "ETH", "BNB", "EUR", "TRY", "GBP", "AUD",
  "BRL", "RUB", "UAH", "NGN", "ZAR", "IDRT", "BIDR", "JPY", "MXN", "PLN", "RON", "ARS", "COP", "CZK", "XRP", "TRX",
  "DOGE", "DOT", "SOL"
]

/** The quote asset of a symbol ("ADABTC" -> "BTC", "btcusdt" -> "USDT"), or "quote" when none is known. */
export const quoteAssetOf = (symbol: string): string => {
  const s = symbol.toUpperCase().replace(/[^A-Z0-9]/g, "")
  let best: string | undefined
  for (const q of knownQuotes) {
    if (s.length > q.length && s.endsWith(q) && (best === undefined || q.length > best.length)) best = q
  }
  return best ?? "quote"
}

/** Most decimals an exchange quotes a price or a quantity with. */
export const maxDecimals = 8

/** Decimals of a number as its shortest round-trip string gives them (0.00002859 -> 8, 1e-7 -> 7). */
export const decimalsOf = (n: number): number =>
  Number.isFinite(n) ? Math.max(0, BigDecimal.normalize(decimalFromNumber(n)).scale) : 0

/**
 * A symbol's price precision as a candle file shows it: the most decimals among its prices, capped at 8. A file
 * carries no exchange metadata (tick size), so this is inferred; trailing zeros a file dropped are not seen.
 */
export const priceDecimalsOf = (candles: Iterable<Candle>): number => {
  const precision = makePricePrecision()
  for (const c of candles) precision.observe(c)
  return precision.decimals()
}

/** `priceDecimalsOf` one candle at a time, for a stream of them. */
export const makePricePrecision = () => {
  let decimals = 0
  let scale = 1
  // most prices have no more decimals than seen so far: a multiplication tells, the string only when it grows
  const widen = (n: number) => {
    if (Math.round(n * scale) / scale === n || !Number.isFinite(n)) return
    decimals = Math.min(maxDecimals, Math.max(decimals, decimalsOf(n)))
    scale = 10 ** decimals
  }
  return {
    observe: (c: Candle) => {
      if (decimals >= maxDecimals) return
      widen(c.open)
      widen(c.high)
      widen(c.low)
      widen(c.close)
    },
    decimals: () => decimals
  }
}
