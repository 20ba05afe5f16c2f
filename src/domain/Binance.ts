import { Schema } from "effect"
import type { Candle } from "./Candle.js"

/** The kline intervals Binance spot streams and serves. */
export const klineIntervals = [
  "1s",
  "1m",
  "3m",
  "5m",
  "15m",
  "30m",
  "1h",
  "2h",
  "4h",
  "6h",
  "8h",
  "12h",
  "1d",
  "3d",
  "1w",
  "1M"
] as const
export type KlineInterval = typeof klineIntervals[number]

/** A decimal as Binance sends it ("60685.22000000"), decoded to a finite number. */
const DecimalString = Schema.NumberFromString.pipe(Schema.finite())

/** `data.k` of a kline event: the fields we use, with Binance's one-letter names. Other fields are ignored. */
export const KlineData = Schema.Struct({
  /** Open time, ms. */
  t: Schema.Int,
  /** Close time, ms (open time + interval - 1). */
  T: Schema.Int,
  /** Symbol, upper case ("BTCUSDT"). */
  s: Schema.String,
  /** Interval ("1m"). */
  i: Schema.String,
  o: DecimalString,
  c: DecimalString,
  h: DecimalString,
  l: DecimalString,
  /** Base asset volume. */
  v: DecimalString,
  /** Number of trades. */
  n: Schema.Int,
  /** Is this kline closed? */
  x: Schema.Boolean,
  /** Quote asset volume. */
  q: DecimalString
})
export interface KlineData extends Schema.Schema.Type<typeof KlineData> {}

/** A kline event: what a raw (non-combined) `/ws/<symbol>@kline_<interval>` stream sends. */
export const KlineEvent = Schema.Struct({
  e: Schema.Literal("kline"),
  /** Event time, ms. */
  E: Schema.Int,
  s: Schema.String,
  k: KlineData
})
export interface KlineEvent extends Schema.Schema.Type<typeof KlineEvent> {}

/** A combined-stream frame (`/stream?streams=...`) carrying a kline event. */
export const CombinedKlineMessage = Schema.Struct({
  stream: Schema.String,
  data: KlineEvent
})
export interface CombinedKlineMessage extends Schema.Schema.Type<typeof CombinedKlineMessage> {}

/**
 * One row of `GET /api/v3/klines`: `[openTime, open, high, low, close,
 * volume, closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote,
 * ignore]`. Extra trailing fields, should Binance add any, are accepted.
 */
export const RestKline = Schema.Tuple(
  [
    Schema.Int,
    DecimalString,
    DecimalString,
    DecimalString,
    DecimalString,
    DecimalString,
    Schema.Int,
    DecimalString,
    Schema.Int,
    Schema.String,
    Schema.String,
    Schema.String
  ],
  Schema.Unknown
)
export type RestKline = typeof RestKline.Type

/** The body of `GET /api/v3/klines`. */
export const RestKlines = Schema.Array(RestKline)

/** The stream name of a symbol's klines, as the combined endpoint names it: `btcusdt@kline_1m`. */
export const klineStreamName = (symbol: string, interval: string): string =>
  `${symbol.toLowerCase()}@kline_${interval}`

/** A WebSocket kline as our `Candle` (symbol upper case, as Binance sends it). */
export const klineToCandle = (k: KlineData): Candle => ({
  symbol: k.s,
  interval: k.i,
  openTime: k.t,
  closeTime: k.T,
  open: k.o,
  high: k.h,
  low: k.l,
  close: k.c,
  volume: k.v,
  quoteVolume: k.q,
  trades: k.n,
  isClosed: k.x
})

/**
 * A REST kline row as our `Candle`. The row names neither symbol nor
 * interval, and says nothing of whether it is closed: the last row of a
 * response is the still-open candle when its close time is in the future.
 */
export const restKlineToCandle = (
  row: RestKline,
  symbol: string,
  interval: string,
  isClosed: boolean
): Candle => ({
  symbol: symbol.toUpperCase(),
  interval,
  openTime: row[0],
  closeTime: row[6],
  open: row[1],
  high: row[2],
  low: row[3],
  close: row[4],
  volume: row[5],
  quoteVolume: row[7],
  trades: row[8],
  isClosed
})
