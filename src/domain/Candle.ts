import { Schema } from "effect"

/**
 * One kline. Market data is analysis input, so its prices are numbers
 * (Binance sends them as decimal strings with at most 8 decimals, which
 * round-trip exactly through a double); anything sent to an exchange is
 * converted to an exact `Decimal` first.
 */
export const Candle = Schema.Struct({
  symbol: Schema.String,
  interval: Schema.String,
  openTime: Schema.Number,
  closeTime: Schema.Number,
  open: Schema.Number,
  high: Schema.Number,
  low: Schema.Number,
  close: Schema.Number,
  volume: Schema.Number,
  quoteVolume: Schema.Number,
  trades: Schema.Number,
  isClosed: Schema.Boolean
})
export interface Candle extends Schema.Schema.Type<typeof Candle> {}
