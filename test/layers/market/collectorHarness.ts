import { NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { Chunk, Context, Effect, HashMap, Layer, Logger, Queue } from "effect"
import type { BusEvent } from "../../../src/domain/BusEvent.js"
import type { EventBusConfig } from "../../../src/domain/EventBusConfig.js"
import * as BinanceMarketData from "../../../src/layers/market/BinanceMarketData.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { MarketData } from "../../../src/services/MarketData.js"
import type * as BinanceTestServer from "../../support/BinanceTestServer.js"
import { minute, t0 } from "../../support/BinanceTestServer.js"

/** The collector's test harness: a bus, the collector against a `BinanceTestServer`, its events and logs. */

export type CandleEvent = BusEvent<"CandleClosed" | "CandleUpdate">

export const infrastructure = Layer.mergeAll(NodeSocket.layerWebSocketConstructor, NodeHttpClient.layerUndici)

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that keeps the lines for assertions instead of printing them. */
export const capturingLogger = (lines: Array<LogLine>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, logLevel, message }) => {
      lines.push({
        level: logLevel.label,
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
  )

/** Small durations so that every reconnect happens within milliseconds. */
export const fast = {
  interval: "1m",
  backoffBase: "50 millis",
  backoffMax: "200 millis",
  silenceTimeout: "5 seconds"
} as const

/** Builds a bus and the collector against the server in the test's scope; records candle events in order. */
export const start = (
  server: BinanceTestServer.BinanceTestServer,
  options: Partial<BinanceMarketData.BinanceMarketDataOptions> & { readonly symbols: ReadonlyArray<string> },
  busConfig?: Partial<EventBusConfig>
) =>
  Effect.gen(function*() {
    const busContext = yield* Layer.build(MemoryEventBus.layer(busConfig))
    const bus = Context.get(busContext, EventBus)
    const events = yield* Queue.unbounded<CandleEvent>()
    yield* bus.subscribe("CandleClosed", (e) => Queue.offer(events, e))
    yield* bus.subscribe("CandleUpdate", (e) => Queue.offer(events, e))
    const errors = yield* Queue.unbounded<BusEvent<"Error">>()
    yield* bus.subscribe("Error", (e) => Queue.offer(errors, e))
    const logs: Array<LogLine> = []
    const layer = BinanceMarketData.layer({ ...fast, wsUrl: server.wsUrl, restUrl: server.restUrl, ...options }).pipe(
      Layer.provide(Layer.mergeAll(Layer.succeedContext(busContext), infrastructure, capturingLogger(logs)))
    )
    const context = yield* Layer.build(layer)
    return { marketData: Context.get(context, MarketData), events, errors, logs }
  })

export const take = (events: Queue.Queue<CandleEvent>, n: number) =>
  Queue.takeBetween(events, n, n).pipe(Effect.map(Chunk.toReadonlyArray), Effect.timeout("5 seconds"))

export const within = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.timeout(self, "5 seconds")

export const summary = (e: CandleEvent) => [e.type, e.payload.symbol, (e.payload.openTime - t0) / minute] as const

export const openTimesOf = (events: ReadonlyArray<CandleEvent>, symbol: string) =>
  events.filter((e) => e.payload.symbol === symbol).map((e) => (e.payload.openTime - t0) / minute)

