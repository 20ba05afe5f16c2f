import { Data, Duration, Effect, Option } from "effect"
import { klineIntervals, klineStreamName } from "../../../../domain/Binance.js"
import { redact } from "./Describe.js"

/** The settings of `BinanceMarketData.layer`. Only `symbols` and `interval` are required. */
export interface BinanceMarketDataOptions {
  /** Symbols to follow, any case ("btcusdt"): lower case in stream names, upper case in candles. */
  readonly symbols: ReadonlyArray<string>
  /** Kline interval, one of Binance's ("1m", "1h", ...). */
  readonly interval: string
  /** WebSocket base URL; default "wss://stream.binance.com:9443". */
  readonly wsUrl?: string
  /** REST base URL for the backfill; default "https://api.binance.com". */
  readonly restUrl?: string
  /** Publish open klines as `CandleUpdate`; default false. */
  readonly candleUpdates?: boolean
  /** At most one `CandleUpdate` per symbol per this long; default "1 second". */
  readonly updateThrottle?: Duration.DurationInput
  /** Reconnect when no frame arrived for this long; default "60 seconds". */
  readonly silenceTimeout?: Duration.DurationInput
  /** How long opening a connection may take; default "10 seconds". */
  readonly openTimeout?: Duration.DurationInput
  /** Streams per combined connection, 1 to 1024 (Binance's limit); default 1024. */
  readonly maxStreamsPerConnection?: number
  /** First reconnect delay (and REST retry delay); default "1 second". Doubles per attempt, with jitter. */
  readonly backoffBase?: Duration.DurationInput
  /** Longest reconnect delay; default "60 seconds". */
  readonly backoffMax?: Duration.DurationInput
  /** A connection that stayed up this long resets the backoff; default "1 minute". */
  readonly backoffResetAfter?: Duration.DurationInput
  /** Reconnect proactively after this long, before Binance's 24 h cut; default "23 hours". */
  readonly maxConnectionAge?: Duration.DurationInput
  /** How long one REST request may take before it counts as failed; default "10 seconds". */
  readonly requestTimeout?: Duration.DurationInput
  /** REST attempts per backfill page before giving up (and reporting the gap); default 10. */
  readonly backfillMaxAttempts?: number
  /** The source's name in logs, events and metrics; default "binance" ("simulator" for the embedded exchange). */
  readonly name?: string
  /**
   * The market's current time, ms, when it is not the Clock's: a simulator's market runs faster than the
   * wall clock. The candle lag is measured against it, and a backfill tells the still-open candle by it.
   */
  readonly marketTime?: Effect.Effect<number>
  /**
   * How long a symbol's live closed candles are held back while its gap is backfilled; after that the
   * gap is given up (an `Error` event names it) and the held candles flow. Default "30 seconds".
   */
  readonly gapHold?: Duration.DurationInput
  /** Live closed candles held per symbol during its backfill before the gap is given up; default 100. */
  readonly maxHeldCandles?: number
  /** Symbols backfilled at once after a reconnect; default 4. */
  readonly backfillConcurrency?: number
  /** Malformed-frame warnings: the first at once, then a count at most once per this long; default "5 seconds". */
  readonly malformedLogInterval?: Duration.DurationInput
}

/** A `BinanceMarketData.layer` option that cannot work; `option` names it as the options do. */
export class BinanceConfigError extends Data.TaggedError("BinanceConfigError")<{
  readonly option: string
  readonly value: unknown
  readonly reason: string
}> {
  override get message() {
    // a URL's credentials stay out of the message
    return `invalid Binance market data option ${this.option}=${redact(JSON.stringify(this.value) ?? "undefined")}: ${this.reason}`
  }
}

export interface ResolvedOptions {
  /** Upper case, deduplicated, in the given order. */
  readonly symbols: ReadonlyArray<string>
  readonly interval: string
  /** Without a trailing slash. */
  readonly wsUrl: string
  readonly restUrl: string
  readonly candleUpdates: boolean
  readonly updateThrottleMillis: number
  readonly silenceTimeoutMillis: number
  readonly openTimeoutMillis: number
  readonly maxStreamsPerConnection: number
  readonly backoffBaseMillis: number
  readonly backoffMaxMillis: number
  readonly backoffResetAfterMillis: number
  readonly maxConnectionAgeMillis: number
  readonly requestTimeoutMillis: number
  readonly backfillMaxAttempts: number
  readonly name: string
  readonly marketTime: Effect.Effect<number> | undefined
  readonly gapHoldMillis: number
  readonly maxHeldCandles: number
  readonly backfillConcurrency: number
  readonly malformedLogIntervalMillis: number
}

/** Binance accepts at most 1024 streams on one connection. */
export const streamLimit = 1024

const fail = (option: string, value: unknown, reason: string) => new BinanceConfigError({ option, value, reason })

const millis = (option: string, value: Duration.DurationInput, allowZero = false) => {
  const d = Duration.decodeUnknown(value)
  if (Option.isNone(d) || !Duration.isFinite(d.value)) throw fail(option, value, "not a finite duration")
  const ms = Duration.toMillis(d.value)
  if (ms < 0 || (!allowZero && ms === 0)) throw fail(option, value, allowZero ? "must not be negative" : "must be positive")
  return ms
}

const url = (option: string, value: string, protocols: ReadonlyArray<string>) => {
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw fail(option, value, "not a URL")
  }
  if (!protocols.includes(parsed.protocol)) throw fail(option, value, `protocol must be ${protocols.join(" or ")}`)
  return value.replace(/\/+$/, "")
}

const integer = (option: string, value: number, min: number, max: number) => {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw fail(option, value, `must be an integer from ${min} to ${max}`)
  }
  return value
}

const nameOf = (value: string) => {
  if (!/^[a-z0-9_-]{1,40}$/i.test(value)) throw fail("name", value, "must be 1-40 letters, digits, - or _")
  return value
}

const symbolsOf = (value: unknown) => {
  if (!Array.isArray(value) || value.length === 0) throw fail("symbols", value, "must be a non-empty array")
  const seen = new Set<string>()
  for (const s of value) {
    if (typeof s !== "string" || !/^[A-Za-z0-9]+$/.test(s)) throw fail("symbols", value, `bad symbol ${String(s)}`)
    seen.add(s.toUpperCase())
  }
  return [...seen]
}

const resolveSync = (o: BinanceMarketDataOptions): ResolvedOptions => {
  const symbols = symbolsOf(o.symbols)
  if (!(klineIntervals as ReadonlyArray<string>).includes(o.interval)) {
    throw fail("interval", o.interval, `must be one of ${klineIntervals.join(", ")}`)
  }
  const backoffBaseMillis = millis("backoffBase", o.backoffBase ?? "1 second")
  const backoffMaxMillis = millis("backoffMax", o.backoffMax ?? "60 seconds")
  if (backoffMaxMillis < backoffBaseMillis) throw fail("backoffMax", o.backoffMax, "must not be below backoffBase")
  return {
    symbols,
    interval: o.interval,
    wsUrl: url("wsUrl", o.wsUrl ?? "wss://stream.binance.com:9443", ["ws:", "wss:"]),
    restUrl: url("restUrl", o.restUrl ?? "https://api.binance.com", ["http:", "https:"]),
    candleUpdates: o.candleUpdates ?? false,
    updateThrottleMillis: millis("updateThrottle", o.updateThrottle ?? "1 second", true),
    silenceTimeoutMillis: millis("silenceTimeout", o.silenceTimeout ?? "60 seconds"),
    openTimeoutMillis: millis("openTimeout", o.openTimeout ?? "10 seconds"),
    maxStreamsPerConnection: integer("maxStreamsPerConnection", o.maxStreamsPerConnection ?? streamLimit, 1, streamLimit),
    backoffBaseMillis,
    backoffMaxMillis,
    backoffResetAfterMillis: millis("backoffResetAfter", o.backoffResetAfter ?? "1 minute"),
    maxConnectionAgeMillis: millis("maxConnectionAge", o.maxConnectionAge ?? "23 hours"),
    requestTimeoutMillis: millis("requestTimeout", o.requestTimeout ?? "10 seconds"),
    backfillMaxAttempts: integer("backfillMaxAttempts", o.backfillMaxAttempts ?? 10, 1, 1_000_000),
    name: nameOf(o.name ?? "binance"),
    marketTime: o.marketTime,
    gapHoldMillis: millis("gapHold", o.gapHold ?? "30 seconds"),
    maxHeldCandles: integer("maxHeldCandles", o.maxHeldCandles ?? 100, 1, 1_000_000),
    backfillConcurrency: integer("backfillConcurrency", o.backfillConcurrency ?? 4, 1, 64),
    malformedLogIntervalMillis: millis("malformedLogInterval", o.malformedLogInterval ?? "5 seconds", true)
  }
}

/** Fills in the defaults and checks every option, failing with the first that cannot work. */
export const resolveOptions = (options: BinanceMarketDataOptions): Effect.Effect<ResolvedOptions, BinanceConfigError> =>
  Effect.try({
    try: () => resolveSync(options),
    catch: (e) => e instanceof BinanceConfigError ? e : fail("options", options, String(e))
  })

/** A connection's share of the symbols and the stream names it subscribes to. */
export interface StreamGroup {
  readonly index: number
  readonly symbols: ReadonlyArray<string>
  /** stream name -> upper-case symbol */
  readonly streams: ReadonlyMap<string, string>
  readonly url: string
}

/** Splits the symbols into connections of at most `maxStreamsPerConnection` streams. */
export const streamGroups = (o: ResolvedOptions): ReadonlyArray<StreamGroup> => {
  const groups: Array<StreamGroup> = []
  for (let i = 0; i < o.symbols.length; i += o.maxStreamsPerConnection) {
    const symbols = o.symbols.slice(i, i + o.maxStreamsPerConnection)
    const names = symbols.map((s) => klineStreamName(s, o.interval))
    groups.push({
      index: groups.length,
      symbols,
      streams: new Map(names.map((n, j) => [n, symbols[j]!])),
      url: `${o.wsUrl}/stream?streams=${names.join("/")}`
    })
  }
  return groups
}
