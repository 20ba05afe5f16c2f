import { type Clock, Deferred, Effect, Either, Exit, type Metric, ParseResult, Random, Schema } from "effect"
import { CombinedKlineMessage, klineToCandle } from "../../../../domain/Binance.js"
import { makeEventAt } from "../../../../domain/BusEvent.js"
import type { Candle } from "../../../../domain/Candle.js"
import * as Metrics from "../../../../domain/Metrics.js"
import type { EventBus } from "../../../../services/EventBus.js"
import type { CollectorStats } from "../../../../services/MarketData.js"
import { makeThrottle, sample } from "./Describe.js"
import type { ResolvedOptions, StreamGroup } from "./Options.js"

/** The default name: logs, events and metrics say which collector speaks. */
export const source = "binance"

/** Mutable counters; every connection's fibers update them from the one JS thread. */
export interface Counters {
  messages: number
  malformed: number
  /** Well-formed frames of streams the collector does not handle (aggTrade, depth, bookTicker, ...). */
  ignored: number
  reconnects: number
  /** Connection attempts that never opened (DNS, refused, TLS, timeout). */
  connectionFailures: number
  backfilled: number
  /** Gaps given up on: closed candles that neither the stream nor the backfill delivered. */
  gaps: number
  candles: number
  openConnections: number
}

/** A symbol's live closed candles, held back while its gap is backfilled so that candles stay in time order. */
export interface Hold {
  readonly candles: Array<Candle>
  /** Completed when more than `maxHeldCandles` wait: the backfill gives the gap up. */
  readonly full: Deferred.Deferred<void>
}

/** The state every connection shares, and the one place candles are turned into bus events. */
export interface Collector {
  readonly options: ResolvedOptions
  readonly name: string
  readonly counters: Counters
  readonly clock: Clock.Clock
  /** The market's time, ms: the Clock's, or the simulator's (`marketTime`). */
  readonly marketNow: Effect.Effect<number>
  readonly groupCount: number
  /** Last published closed openTime per upper-case symbol: the dedupe key (klines are ordered). */
  readonly lastClosed: Map<string, number>
  /** Symbols being backfilled, with their held live candles. */
  readonly holds: Map<string, Hold>
  /** Decodes one frame and publishes what it carries; never fails. */
  readonly handleFrame: (group: StreamGroup, frame: string | Uint8Array) => Effect.Effect<void>
  /**
   * Publishes a closed candle unless one at or after its openTime was published; true when published.
   * A candle that does not follow the last one reports the candles between as a gap. Uninterruptible.
   */
  readonly publishClosed: (candle: Candle) => Effect.Effect<boolean>
  /**
   * Waits (yielding, no timer) until the bus's data queue is at most half full: a backfill publishes faster
   * than any processor, and the sliding data queue would push the oldest recovered candles out.
   */
  readonly awaitRoom: Effect.Effect<void>
  readonly stats: Effect.Effect<CollectorStats>
  /** The collector's metrics, labelled once with its source; updated synchronously where the counters are. */
  readonly metrics: CollectorMetrics
}

export interface CollectorMetrics {
  readonly messages: Metric.Metric.Counter<number>
  readonly malformed: Metric.Metric.Counter<number>
  readonly reconnects: Metric.Metric.Counter<number>
  readonly connectionFailures: Metric.Metric.Counter<number>
  /** Sets `trading_bus_collector_connected` from the open connections; call after each open and close. */
  readonly syncConnected: () => void
}

const candleLag = Metrics.labelled(Metrics.candleLagSeconds, "symbol")

const decodeMessage = Schema.decodeUnknownEither(CombinedKlineMessage)
const decoder = new TextDecoder()

/** The first issue only, path first: the full tree of a union-free struct error is mostly the schema's type. */
const describeParseError = (error: ParseResult.ParseError) => {
  const [first] = ParseResult.ArrayFormatter.formatErrorSync(error)
  return first === undefined ? "does not match the kline schema" : `at [${first.path.join(".")}]: ${first.message}`
}

/** A well-formed combined-stream frame of another kind of stream than klines: not ours to handle, not malformed. */
const isOtherStream = (json: unknown): boolean => {
  if (typeof json !== "object" || json === null) return false
  const { data, stream } = json as { readonly stream?: unknown; readonly data?: unknown }
  return typeof stream === "string" && /^[a-z0-9]+@/.test(stream) && !stream.includes("@kline_") &&
    typeof data === "object" && data !== null
}

const iso = (millis: number) => new Date(millis).toISOString().replace(".000Z", "Z")

export const makeCollector = (
  options: ResolvedOptions,
  bus: EventBus["Type"],
  clock: Clock.Clock,
  groupCount: number
): Collector => {
  const name = options.name
  const counters: Counters = {
    messages: 0,
    malformed: 0,
    ignored: 0,
    reconnects: 0,
    connectionFailures: 0,
    backfilled: 0,
    gaps: 0,
    candles: 0,
    openConnections: 0
  }
  const lastClosed = new Map<string, number>()
  /** closeTime of the last published closed candle: the next one opens 1 ms later (true of 1M klines too). */
  const lastCloseTime = new Map<string, number>()
  const holds = new Map<string, Hold>()
  const lastUpdateAt = new Map<string, number>()
  // any: the metric's own types pass through unchanged
  const bySource = <M extends Metric.Metric<any, any, any>>(metric: M) => Metrics.labelled(metric, "source")(name)
  const connected = bySource(Metrics.collectorConnected)
  const metrics: CollectorMetrics = {
    messages: bySource(Metrics.collectorMessagesTotal),
    malformed: bySource(Metrics.collectorMalformedTotal),
    reconnects: bySource(Metrics.collectorReconnectsTotal),
    connectionFailures: bySource(Metrics.collectorConnectionFailuresTotal),
    syncConnected: () => connected.unsafeUpdate(counters.openConnections === groupCount ? 1 : 0, [])
  }
  const ignoredMetric = bySource(Metrics.collectorIgnoredTotal)
  const gapsMetric = bySource(Metrics.collectorGapsTotal)
  // every counter of the source is exported from the start at 0, so that a rate has a series before its first event
  for (const metric of [metrics.messages, metrics.malformed, metrics.reconnects, metrics.connectionFailures, ignoredMetric, gapsMetric]) {
    metric.register()
  }
    metrics.syncConnected()
  const marketNow = options.marketTime ?? Effect.sync(() => clock.unsafeCurrentTimeMillis())
  const malformedThrottle = makeThrottle(options.malformedLogIntervalMillis)

  const publish = (event: Parameters<EventBus["Type"]["publish"]>[0]) =>
    bus.publish(event).pipe(
      Effect.catchAll((error) => Effect.logWarning(`${name}: could not publish ${event.type}: ${error.message}`))
    )

  const malformed = (reason: string, frame: string | Uint8Array) => {
    counters.malformed++
    metrics.malformed.unsafeUpdate(1, [])
    const suppressed = malformedThrottle(clock.unsafeCurrentTimeMillis())
    if (suppressed === undefined) return Effect.void
    const more = suppressed === 0 ? "" : ` (and ${suppressed} more since the last warning)`
    return Effect.logWarning(`${name}: skipped a malformed frame${more}`).pipe(
      Effect.annotateLogs({ reason: sample(reason), sample: sample(frame), malformed: counters.malformed })
    )
  }

  /** Reports the closed candles from `from` to `to` (ms, inclusive) as lost: log, counter, `Error` event. */
  const reportGap = (symbol: string, from: number, to: number) => {
    counters.gaps++
    gapsMetric.unsafeUpdate(1, [])
    const message = `${name}: gave up on the ${symbol} ${options.interval} candles from ${iso(from)} to ${iso(to + 1)}`
    return Effect.logError(message).pipe(
      Effect.annotateLogs({ symbol, from, to }),
      Effect.zipRight(publish(makeEventAt("Error", {
        component: name,
        message,
        cause: "neither the stream nor the REST backfill delivered them"
      }, clock.unsafeCurrentTimeMillis(), { source: name })))
    )
  }

  const publishClosed = (candle: Candle): Effect.Effect<boolean> => {
    const last = lastClosed.get(candle.symbol)
    if (last !== undefined && candle.openTime <= last) return Effect.succeed(false)
    const previousClose = lastCloseTime.get(candle.symbol)
    lastClosed.set(candle.symbol, candle.openTime)
    lastCloseTime.set(candle.symbol, candle.closeTime)
    counters.candles++
    const now = clock.unsafeCurrentTimeMillis()
    const event = makeEventAt("CandleClosed", candle, now, { source: name })
    const gap = previousClose !== undefined && candle.openTime > previousClose + 1
      ? reportGap(candle.symbol, previousClose + 1, candle.openTime - 1)
      : Effect.void
    return Effect.flatMap(marketNow, (market) => {
      candleLag(candle.symbol).unsafeUpdate((market - candle.closeTime) / 1000, [])
      return Effect.zipRight(gap, publish(event))
    }).pipe(Effect.as(true), Effect.uninterruptible)
  }

  const publishUpdate = (candle: Candle): Effect.Effect<void> => {
    const last = lastClosed.get(candle.symbol)
    if (last !== undefined && candle.openTime <= last) return Effect.void // a stale open kline
    if (holds.has(candle.symbol)) return Effect.void // its closed candles are held: an update would overtake them
    const now = clock.unsafeCurrentTimeMillis()
    const previous = lastUpdateAt.get(candle.symbol)
    if (previous !== undefined && now - previous < options.updateThrottleMillis) return Effect.void
    lastUpdateAt.set(candle.symbol, now)
    return publish(makeEventAt("CandleUpdate", candle, now, { source: name }))
  }

  const handleFrame = (group: StreamGroup, frame: string | Uint8Array): Effect.Effect<void> => {
    const text = typeof frame === "string" ? frame : decoder.decode(frame)
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      return malformed(typeof frame === "string" ? "not JSON" : "a binary frame, not JSON", frame)
    }
    const decoded = decodeMessage(json)
    if (Either.isLeft(decoded)) {
      if (isOtherStream(json)) {
        counters.ignored++
        ignoredMetric.unsafeUpdate(1, [])
        return Effect.void
      }
      return malformed(describeParseError(decoded.left), frame)
    }
    const { data, stream } = decoded.right
    const symbol = group.streams.get(stream)
    if (symbol === undefined) return malformed(`unknown stream ${stream}`, frame)
    if (data.k.s !== symbol || data.k.i !== options.interval) return malformed(`kline does not match ${stream}`, frame)
    const candle = klineToCandle(data.k)
    if (!candle.isClosed) return options.candleUpdates ? publishUpdate(candle) : Effect.void
    const hold = holds.get(symbol)
    if (hold === undefined) return Effect.asVoid(publishClosed(candle))
    hold.candles.push(candle)
    if (hold.candles.length > options.maxHeldCandles) Deferred.unsafeDone(hold.full, Exit.void)
    return Effect.void
  }

  const awaitRoom = Effect.gen(function*() {
    while (true) {
      const { data } = yield* bus.stats
      if (data.size <= data.capacity / 2) return
      yield* Effect.yieldNow()
    }
  })

  return {
    options,
    name,
    counters,
    clock,
    marketNow,
    groupCount,
    lastClosed,
    holds,
    handleFrame,
    publishClosed,
    awaitRoom,
    metrics,
    stats: Effect.sync(() => ({
      messages: counters.messages,
      malformed: counters.malformed,
      ignored: counters.ignored,
      reconnects: counters.reconnects,
      connectionFailures: counters.connectionFailures,
      backfilled: counters.backfilled,
      gaps: counters.gaps,
      candles: counters.candles,
      connected: counters.openConnections === groupCount
    }))
  }
}

/** Exponential backoff with jitter: base * 2^attempt capped at max, then scaled by a random 50-100 %. */
export const backoffDelay = (options: ResolvedOptions, attempt: number): Effect.Effect<number> =>
  Effect.map(Random.next, (r) => {
    const capped = Math.min(options.backoffMaxMillis, options.backoffBaseMillis * 2 ** Math.min(attempt, 30))
    return Math.round(capped * (0.5 + 0.5 * r))
  })
