/**
 * Binance's public market-data wire formats, as the simulator speaks them:
 * kline frames, REST kline rows, REST errors and request parsing.
 */
import type { Kline } from "./RandomWalk.js"

/** Every interval Binance accepts, with its length where the simulator can generate it. */
const intervalTable: ReadonlyArray<readonly [string, number | undefined]> = [
  ["1s", 1_000],
  ["1m", 60_000],
  ["3m", 180_000],
  ["5m", 300_000],
  ["15m", 900_000],
  ["30m", 1_800_000],
  ["1h", 3_600_000],
  ["2h", 7_200_000],
  ["4h", 14_400_000],
  ["6h", 21_600_000],
  ["8h", 28_800_000],
  ["12h", 43_200_000],
  ["1d", 86_400_000],
  // calendar-aligned (Monday weeks, months): valid on Binance, not generated here
  ["3d", undefined],
  ["1w", undefined],
  ["1M", undefined]
]

export const binanceIntervals: ReadonlySet<string> = new Set(intervalTable.map(([name]) => name))

/** The length of an interval the simulator can generate, or undefined. */
export const intervalMillis = (interval: string): number | undefined =>
  intervalTable.find(([name]) => name === interval)?.[1]

export const supportedIntervals: ReadonlyArray<string> = intervalTable.filter(([, ms]) => ms !== undefined).map((
  [name]
) => name)

/** The kline stream of a symbol, as Binance names it: lower case. */
export const klineStream = (symbol: string, interval: string): string => `${symbol.toLowerCase()}@kline_${interval}`

/** The raw (`/ws/<stream>`) payload of a kline event, keys in Binance's order. */
export const klineEvent = (kline: Kline, eventTime: number): string =>
  JSON.stringify({
    e: "kline",
    E: eventTime,
    s: kline.symbol,
    k: {
      t: kline.openTime,
      T: kline.closeTime,
      s: kline.symbol,
      i: kline.interval,
      f: kline.firstTradeId,
      L: kline.lastTradeId,
      o: kline.open,
      c: kline.close,
      h: kline.high,
      l: kline.low,
      v: kline.volume,
      n: kline.trades,
      x: kline.isClosed,
      q: kline.quoteVolume,
      V: kline.takerBuyBase,
      Q: kline.takerBuyQuote,
      B: "0"
    }
  })

/** The combined-stream (`/stream?streams=`) wrapper around a raw payload. */
export const combinedFrame = (stream: string, rawEvent: string): string => `{"stream":"${stream}","data":${rawEvent}}`

/** A `GET /api/v3/klines` row: Binance's 12 columns. */
export const klineRow = (kline: Kline): ReadonlyArray<string | number> => [
  kline.openTime,
  kline.open,
  kline.high,
  kline.low,
  kline.close,
  kline.volume,
  kline.closeTime,
  kline.quoteVolume,
  kline.trades,
  kline.takerBuyBase,
  kline.takerBuyQuote,
  "0"
]

/** A REST error as Binance sends it: an HTTP status and `{code, msg}`. */
export interface RestError {
  readonly status: number
  readonly code: number
  readonly msg: string
}

const mandatory = (name: string): RestError => ({
  status: 400,
  code: -1102,
  msg: `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`
})

const illegal = (name: string, range: string): RestError => ({
  status: 400,
  code: -1100,
  msg: `Illegal characters found in parameter '${name}'; legal range is '${range}'.`
})

export const invalidSymbol: RestError = { status: 400, code: -1121, msg: "Invalid symbol." }
export const invalidInterval: RestError = { status: 400, code: -1120, msg: "Invalid interval." }

export interface KlinesQuery {
  readonly symbol: string
  readonly interval: string
  readonly startTime: number | undefined
  readonly endTime: number | undefined
  readonly limit: number
}

const integerParam = (params: URLSearchParams, name: string): number | RestError | undefined => {
  const raw = params.get(name)
  if (raw === null || raw === "") return undefined
  return /^[0-9]{1,20}$/.test(raw) ? Number(raw) : illegal(name, "^[0-9]{1,20}$")
}

const isError = (u: unknown): u is RestError => typeof u === "object" && u !== null && "code" in u

/** Parses and checks the parameters of `GET /api/v3/klines` in Binance's order of checks. */
export const parseKlinesQuery = (params: URLSearchParams): KlinesQuery | RestError => {
  const symbol = params.get("symbol")
  if (symbol === null || symbol === "") return mandatory("symbol")
  if (!/^[A-Z0-9-_.]{1,20}$/.test(symbol)) return illegal("symbol", "^[A-Z0-9-_.]{1,20}$")
  const interval = params.get("interval")
  if (interval === null || interval === "") return mandatory("interval")
  if (!binanceIntervals.has(interval)) return invalidInterval
  const startTime = integerParam(params, "startTime")
  if (isError(startTime)) return startTime
  const endTime = integerParam(params, "endTime")
  if (isError(endTime)) return endTime
  const limit = integerParam(params, "limit")
  if (isError(limit)) return limit
  if (limit === 0) return { status: 400, code: -1130, msg: "Data sent for parameter 'limit' is not valid." }
  return { symbol, interval, startTime, endTime, limit: Math.min(limit ?? 500, 1000) }
}

/**
 * Binance's selection from candles sorted by open time: from `startTime` the
 * first `limit`; with only `endTime`, the last `limit` up to it; with
 * neither, the most recent `limit`.
 */
export const selectKlines = (sorted: ReadonlyArray<Kline>, query: KlinesQuery): ReadonlyArray<Kline> => {
  const { endTime, limit, startTime } = query
  const inRange = sorted.filter((kline) =>
    (startTime === undefined || kline.openTime >= startTime) && (endTime === undefined || kline.openTime <= endTime)
  )
  return startTime !== undefined ? inRange.slice(0, limit) : inRange.slice(Math.max(0, inRange.length - limit))
}
