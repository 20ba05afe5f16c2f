import * as HttpClient from "@effect/platform/HttpClient"
import * as Socket from "@effect/platform/Socket"
import { Cause, Effect, Layer } from "effect"
import { EventBus } from "../../services/EventBus.js"
import { MarketData } from "../../services/MarketData.js"
import { backoffDelay, type Collector, makeCollector } from "./internal/binance/Collector.js"
import { type ConnectionEnd, type ConnectionOutcome, runConnection } from "./internal/binance/Connection.js"
import { describeSocketError, hostOf } from "./internal/binance/Describe.js"
import {
  BinanceConfigError,
  type BinanceMarketDataOptions,
  resolveOptions,
  type ResolvedOptions,
  type StreamGroup,
  streamGroups
} from "./internal/binance/Options.js"

export { BinanceConfigError, type BinanceMarketDataOptions }
export { BinanceBackfillError } from "./internal/binance/Backfill.js"

const describe = (end: ConnectionEnd, url: string) => {
  switch (end._tag) {
    case "Closed":
      return end.error === undefined ? "closed" : `closed: ${describeSocketError(url, end.error)}`
    case "Silent":
      return "silent"
    case "MaxAge":
      return "at its maximum age"
  }
}

/**
 * One connection's supervisor: connects, and after each end reconnects,
 * immediately when the connection merely got old, after an exponential
 * backoff with jitter otherwise. A connection that stayed open for
 * `backoffResetAfter` starts the backoff over. An attempt that never opened
 * is a connection failure: counted, and logged with the host and the cause.
 */
const supervise = (collector: Collector, http: HttpClient.HttpClient, group: StreamGroup) =>
  Effect.gen(function*() {
    const options: ResolvedOptions = collector.options
    let attempt = 0
    while (true) {
      const { end, openMillis } = yield* runConnection(collector, http, group).pipe(
        // runConnection does not fail; should it die, the loop still reconnects
        Effect.catchAllCause((cause): Effect.Effect<ConnectionOutcome> =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.as(Effect.logError(`${collector.name}: a connection died`, cause), {
              end: { _tag: "Closed", error: undefined },
              openMillis: 0
            })
        )
      )
      if (openMillis >= options.backoffResetAfterMillis) attempt = 0
      const name = collector.name
      if (end._tag === "MaxAge") {
        yield* Effect.logInfo(`${name}: connection ${group.index} is ${describe(end, group.url)}; reconnecting`)
      } else if (openMillis === 0 && end._tag === "Closed" && end.error !== undefined) {
        collector.counters.connectionFailures++
        collector.metrics.connectionFailures.unsafeUpdate(1, [])
        const delay = yield* backoffDelay(options, attempt++)
        yield* Effect.logWarning(
          `${name}: cannot connect to ${hostOf(group.url)}: ${describeSocketError(group.url, end.error)}; ` +
            `retrying in ${delay} ms`
        ).pipe(Effect.annotateLogs({ failures: collector.counters.connectionFailures }))
        yield* Effect.sleep(delay)
      } else {
        const delay = yield* backoffDelay(options, attempt++)
        yield* Effect.logWarning(`${name}: connection ${group.index} ${describe(end, group.url)}; reconnecting in ${delay} ms`)
        yield* Effect.sleep(delay)
      }
      collector.counters.reconnects++
      collector.metrics.reconnects.unsafeUpdate(1, [])
    }
  }).pipe(Effect.annotateLogs({ source: collector.name, connection: group.index, streams: group.streams.size }))

const make = (options: ResolvedOptions) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const http = yield* HttpClient.HttpClient
    const groups = streamGroups(options)
    const collector = makeCollector(options, bus, yield* Effect.clock, groups.length)
    for (const group of groups) {
      // forked while the layer is built, in an uninterruptible region: the loop must stay interruptible
      yield* Effect.forkScoped(Effect.interruptible(supervise(collector, http, group)))
    }
    yield* Effect.logInfo(
      `${collector.name}: following ${options.symbols.length} symbols at ${options.interval} on ${groups.length} connection(s)`
    )
    return MarketData.of({ name: collector.name, stats: collector.stats })
  })

/**
 * Binance spot klines as a scoped layer: one combined-stream WebSocket per
 * `maxStreamsPerConnection` symbols, each supervised and reconnected with
 * backoff (on close, error, silence and before Binance's 24 h cut), with
 * the closed candles missed while away backfilled over REST. Publishes
 * `CandleClosed` (and, when `candleUpdates` is on, throttled
 * `CandleUpdate`) on the bus's `data` queue, each closed candle once.
 *
 * Fails with `BinanceConfigError` naming the first option that cannot work.
 */
export const layer = (
  options: BinanceMarketDataOptions
): Layer.Layer<MarketData, BinanceConfigError, EventBus | HttpClient.HttpClient | Socket.WebSocketConstructor> =>
  Layer.scoped(MarketData, Effect.flatMap(resolveOptions(options), make))
