import { type Clock, Effect, Either, type Metric, ParseResult, Random, Schema } from "effect"
import { CombinedKlineMessage, klineToCandle } from "../../../../domain/Binance.js"
import { makeEventAt } from "../../../../domain/BusEvent.js"
import type { Candle } from "../../../../domain/Candle.js"
import * as Metrics from "../../../../domain/Metrics.js"
import type { EventBus } from "../../../../services/EventBus.js"
import type { CollectorStats } from "../../../../services/MarketData.js"
import type { ResolvedOptions, StreamGroup } from "./Options.js"

export const source = "binance"

/** How much of a bad frame goes into the log. */
const sampleLength = 200

/** Mutable counters; every connection's fibers update them from the one JS thread. */
export interface Counters {
  messages: number
  malformed: number
  reconnects: number
  backfilled: number
  candles: number
  openConnections: number
}

/** The state every connection shares, and the one place candles are turned into bus events. */
export interface Collector {
  readonly options: ResolvedOptions
  readonly counters: Counters
  readonly clock: Clock.Clock
  readonly groupCount: number
  /** Last published closed openTime per upper-case symbol: the dedupe key (klines are ordered). */
  readonly lastClosed: Map<string, number>
  /** Decodes one frame and publishes what it carries; never fails. */
  readonly handleFrame: (group: StreamGroup, frame: string | Uint8Array) => Effect.Effect<void>
  /** Publishes a closed candle unless one at or after its openTime was published; true when published. */
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

const sample = (text: string) => text.length > sampleLength ? `${text.slice(0, sampleLength)}...` : text

export const makeCollector = (
  options: ResolvedOptions,
  bus: EventBus["Type"],
  clock: Clock.Clock,
  groupCount: number
): Collector => {
  const counters: Counters = { messages: 0, malformed: 0, reconnects: 0, backfilled: 0, candles: 0, openConnections: 0 }
  const lastClosed = new Map<string, number>()
  const lastUpdateAt = new Map<string, number>()
  const connected = Metrics.labelled(Metrics.collectorConnected, "source")(source)
  const metrics: CollectorMetrics = {
    messages: Metrics.labelled(Metrics.collectorMessagesTotal, "source")(source),
    malformed: Metrics.labelled(Metrics.collectorMalformedTotal, "source")(source),
    reconnects: Metrics.labelled(Metrics.collectorReconnectsTotal, "source")(source),
    syncConnected: () => connected.unsafeUpdate(counters.openConnections === groupCount ? 1 : 0, [])
  }
  metrics.syncConnected()

  const publish = (event: Parameters<EventBus["Type"]["publish"]>[0]) =>
    bus.publish(event).pipe(
      Effect.catchAll((error) => Effect.logWarning(`binance: could not publish ${event.type}: ${error.message}`))
    )

  const malformed = (reason: string, text: string) => {
    counters.malformed++
    metrics.malformed.unsafeUpdate(1, [])
    return Effect.logWarning("binance: skipped a malformed frame").pipe(
      Effect.annotateLogs({ reason: sample(reason), sample: sample(text) })
    )
  }

  const publishClosed = (candle: Candle): Effect.Effect<boolean> => {
    const last = lastClosed.get(candle.symbol)
    if (last !== undefined && candle.openTime <= last) return Effect.succeed(false)
    lastClosed.set(candle.symbol, candle.openTime)
    counters.candles++
    const now = clock.unsafeCurrentTimeMillis()
    candleLag(candle.symbol).unsafeUpdate((now - candle.closeTime) / 1000, [])
    const event = makeEventAt("CandleClosed", candle, now, { source })
    return Effect.as(publish(event), true)
  }

  const publishUpdate = (candle: Candle): Effect.Effect<void> => {
    const last = lastClosed.get(candle.symbol)
    if (last !== undefined && candle.openTime <= last) return Effect.void // a stale open kline
    const now = clock.unsafeCurrentTimeMillis()
    const previous = lastUpdateAt.get(candle.symbol)
    if (previous !== undefined && now - previous < options.updateThrottleMillis) return Effect.void
    lastUpdateAt.set(candle.symbol, now)
    return publish(makeEventAt("CandleUpdate", candle, now, { source }))
  }

  const handleFrame = (group: StreamGroup, frame: string | Uint8Array): Effect.Effect<void> => {
    const text = typeof frame === "string" ? frame : decoder.decode(frame)
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      return malformed("not JSON", text)
    }
    const decoded = decodeMessage(json)
    if (Either.isLeft(decoded)) return malformed(describeParseError(decoded.left), text)
    const { data, stream } = decoded.right
    const symbol = group.streams.get(stream)
    if (symbol === undefined) return malformed(`unknown stream ${stream}`, text)
    if (data.k.s !== symbol || data.k.i !== options.interval) return malformed(`kline does not match ${stream}`, text)
    const candle = klineToCandle(data.k)
    if (candle.isClosed) return Effect.asVoid(publishClosed(candle))
    return options.candleUpdates ? publishUpdate(candle) : Effect.void
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
    counters,
    clock,
    groupCount,
    lastClosed,
    handleFrame,
    publishClosed,
    awaitRoom,
    metrics,
    stats: Effect.sync(() => ({
      messages: counters.messages,
      malformed: counters.malformed,
      reconnects: counters.reconnects,
      backfilled: counters.backfilled,
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
