/**
 * The simulator's price model: a seeded, deterministic random walk per
 * symbol. Only integer and IEEE-exact arithmetic (+, *, /, sqrt, round) is
 * used, so the same seed gives byte-identical candles on every machine.
 */

/** Trades inside one candle, in the order they happen; partial frames show a prefix of them. */
export const subSteps = 60

/** What a symbol's walk depends on. Candle k is a pure function of this and k. */
export interface WalkSpec {
  /** Upper case, as Binance sends it: "BTCUSDT". */
  readonly symbol: string
  readonly seed: number
  readonly interval: string
  readonly intervalMs: number
  /** Open time of candle 0. */
  readonly startTime: number
  readonly startPrice: number
  /** Decimals of the price tick (2 => 0.01). */
  readonly priceDecimals: number
  /** Decimals of the quantity step (5 => 0.00001). */
  readonly qtyDecimals: number
}

/** The walk between candles: what candle k needs from candles 0..k-1. */
export interface WalkState {
  readonly k: number
  /** The unrounded last price, so that small moves accumulate instead of rounding away. */
  readonly price: number
  readonly nextTradeId: number
}

/** One kline as Binance reports it: decimals as strings with 8 places. */
export interface Kline {
  readonly symbol: string
  readonly interval: string
  readonly openTime: number
  readonly closeTime: number
  readonly firstTradeId: number
  readonly lastTradeId: number
  readonly open: string
  readonly high: string
  readonly low: string
  readonly close: string
  readonly volume: string
  readonly trades: number
  readonly quoteVolume: string
  readonly takerBuyBase: string
  readonly takerBuyQuote: string
  readonly isClosed: boolean
}

/** A candle's trades, cumulated: entry i describes the candle after i + 1 trades batches. */
export interface CandlePath {
  readonly spec: WalkSpec
  readonly k: number
  readonly openTicks: number
  readonly firstTradeId: number
  readonly close: ReadonlyArray<number>
  readonly high: ReadonlyArray<number>
  readonly low: ReadonlyArray<number>
  readonly trades: ReadonlyArray<number>
  readonly volume: ReadonlyArray<number>
  readonly takerBase: ReadonlyArray<number>
  readonly quote: ReadonlyArray<bigint>
  readonly takerQuote: ReadonlyArray<bigint>
}

/** Price and quantity decimals in Binance's style: about 6 significant digits of price; together at most 8. */
export const decimalsFor = (startPrice: number): { readonly priceDecimals: number; readonly qtyDecimals: number } => {
  // the decimal exponent, by loop rather than Math.log10, which is inexact at some powers of ten
  let magnitude = 0
  for (let p = startPrice; p >= 10; p /= 10) magnitude++
  for (let p = startPrice; p < 1; p *= 10) magnitude--
  const priceDecimals = Math.min(8, Math.max(2, 4 - magnitude))
  const qtyDecimals = Math.min(8 - priceDecimals, Math.max(0, magnitude + 1))
  return { priceDecimals, qtyDecimals }
}

// --- seeded randomness ---------------------------------------------------

const mix32 = (h: number): number => {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

const hashString = (s: string, h: number): number => {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return mix32(h)
}

/** The seed of candle k's generator: a hash of (seed, symbol, k), so candles do not share a stream. */
export const candleSeed = (seed: number, symbol: string, k: number): number => {
  const seedHi = Math.floor(seed / 2 ** 32) >>> 0
  const kHi = Math.floor(k / 2 ** 32) >>> 0
  let h = hashString(symbol, mix32((seed >>> 0) ^ 0x9e3779b9) ^ seedHi)
  h = mix32(h ^ (k >>> 0))
  return mix32(h + Math.imul(kHi, 0x27d4eb2d))
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG returning floats in [0, 1). */
export const mulberry32 = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An approximately standard normal draw (Irwin-Hall of 4), without transcendental functions. */
const gaussian = (rng: () => number): number => (rng() + rng() + rng() + rng() - 2) * Math.sqrt(3)

// --- the walk --------------------------------------------------------------

/** Volatility of one 1m candle (0.1%), scaled by the square root of the interval. */
const minuteVolatility = 0.001
/** Trades per 1m candle on average, scaled linearly with the interval. */
const minuteTrades = 600
/** Average notional of one trade, in quote currency. */
const tradeNotional = 1_500

export const initialState = (spec: WalkSpec): WalkState => ({
  k: 0,
  price: spec.startPrice,
  nextTradeId: 1_000_000 + (hashString(spec.symbol, spec.seed >>> 0) % 9_000_000) * 100
})

const toTicks = (price: number, decimals: number): number => Math.max(1, Math.round(price * 10 ** decimals))

/** Generates candle `state.k` and the state after it. */
export const step = (spec: WalkSpec, state: WalkState): { readonly path: CandlePath; readonly next: WalkState } => {
  const rng = mulberry32(candleSeed(spec.seed, spec.symbol, state.k))
  const scale = spec.intervalMs / 60_000
  // a per-candle volatility regime, so candles are not all alike
  const regime = 0.5 + rng() + rng() * rng()
  const sigma = (minuteVolatility * Math.sqrt(scale) * regime) / Math.sqrt(subSteps)
  const meanTrades = Math.max(1, (minuteTrades * scale) / subSteps)
  const qtyUnit = 10 ** spec.qtyDecimals

  const openTicks = toTicks(state.price, spec.priceDecimals)
  const close: Array<number> = []
  const high: Array<number> = []
  const low: Array<number> = []
  const trades: Array<number> = []
  const volume: Array<number> = []
  const takerBase: Array<number> = []
  const quote: Array<bigint> = []
  const takerQuote: Array<bigint> = []

  let price = state.price
  let hi = openTicks, lo = openTicks, n = 0, vol = 0, buy = 0, q = 0n, bq = 0n
  for (let i = 0; i < subSteps; i++) {
    // a multiplicative step keeps the price positive; the floor keeps it off zero
    price = Math.max(price * (1 + sigma * gaussian(rng)), 10 ** -spec.priceDecimals)
    const ticks = toTicks(price, spec.priceDecimals)
    const batch = 1 + Math.floor(rng() * 2 * meanTrades)
    const lots = Math.max(1, Math.round(((batch * tradeNotional * (0.25 + 1.5 * rng())) / price) * qtyUnit))
    const buyLots = Math.round(lots * rng())
    hi = Math.max(hi, ticks)
    lo = Math.min(lo, ticks)
    n += batch
    vol += lots
    buy += buyLots
    q += BigInt(ticks) * BigInt(lots)
    bq += BigInt(ticks) * BigInt(buyLots)
    close.push(ticks)
    high.push(hi)
    low.push(lo)
    trades.push(n)
    volume.push(vol)
    takerBase.push(buy)
    quote.push(q)
    takerQuote.push(bq)
  }
  return {
    path: {
      spec,
      k: state.k,
      openTicks,
      firstTradeId: state.nextTradeId,
      close,
      high,
      low,
      trades,
      volume,
      takerBase,
      quote,
      takerQuote
    },
    next: { k: state.k + 1, price, nextTradeId: state.nextTradeId + n }
  }
}

/** Formats an integer count of 10^-decimals units as Binance does: 8 decimal places. */
export const formatUnits = (units: number | bigint, decimals: number): string => {
  const digits = units.toString().padStart(decimals + 1, "0")
  const cut = digits.length - decimals
  return `${digits.slice(0, cut)}.${digits.slice(cut)}${"0".repeat(8 - decimals)}`
}

/** The candle after `count` of its `subSteps` trade batches; `count === subSteps` is the closed candle. */
export const snapshot = (path: CandlePath, count: number): Kline => {
  const { spec } = path
  const i = Math.min(subSteps, Math.max(1, count)) - 1
  const pd = spec.priceDecimals
  const qd = spec.qtyDecimals
  const openTime = spec.startTime + path.k * spec.intervalMs
  return {
    symbol: spec.symbol,
    interval: spec.interval,
    openTime,
    closeTime: openTime + spec.intervalMs - 1,
    firstTradeId: path.firstTradeId,
    lastTradeId: path.firstTradeId + path.trades[i]! - 1,
    open: formatUnits(path.openTicks, pd),
    high: formatUnits(path.high[i]!, pd),
    low: formatUnits(path.low[i]!, pd),
    close: formatUnits(path.close[i]!, pd),
    volume: formatUnits(path.volume[i]!, qd),
    trades: path.trades[i]!,
    quoteVolume: formatUnits(path.quote[i]!, pd + qd),
    takerBuyBase: formatUnits(path.takerBase[i]!, qd),
    takerBuyQuote: formatUnits(path.takerQuote[i]!, pd + qd),
    isClosed: i === subSteps - 1
  }
}

/**
 * Closed candle k of a symbol, computed from candle 0 (O(k)): the reference
 * the exchange's incremental generator must agree with.
 */
export const candleAt = (spec: WalkSpec, k: number): Kline => {
  let state = initialState(spec)
  while (state.k < k) state = step(spec, state).next
  return snapshot(step(spec, state).path, subSteps)
}
