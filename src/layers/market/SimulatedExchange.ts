/**
 * A local exchange speaking Binance's public market-data protocol (kline
 * streams and REST klines) over a seeded, deterministic random walk: the
 * engine's offline default, reached exactly as Binance is.
 */
import { Clock, Context, Data, Duration, Effect, Layer } from "effect"
import type { SimulatorKey } from "./internal/simulator/Auth.js"
import { makeMarket } from "./internal/simulator/Market.js"
import {
  intervalMillis,
  invalidInterval,
  invalidSymbol,
  klineRow,
  klineStream,
  parseKlinesQuery,
  selectKlines,
  supportedIntervals
} from "./internal/simulator/Protocol.js"
import { decimalsFor, subSteps, type WalkSpec } from "./internal/simulator/RandomWalk.js"
import { type RestResponse, serve } from "./internal/simulator/Server.js"
import { makeTrading, type SimulatorControl } from "./internal/simulator/Trading.js"

export type { SimulatorKey } from "./internal/simulator/Auth.js"
export { candleAt, type Kline, type WalkSpec } from "./internal/simulator/RandomWalk.js"
export type { SimulatedOrder, SimulatorControl } from "./internal/simulator/Trading.js"

export class SimulatedExchange extends Context.Tag("trading-bus/SimulatedExchange")<SimulatedExchange, {
  /** WebSocket base URL, as Binance's "wss://stream.binance.com:9443": append `/stream?streams=...` or `/ws/<stream>`. */
  readonly wsUrl: string
  /** REST base URL, as Binance's "https://api.binance.com": append `/api/v3/klines?...`, `/api/v3/order`. */
  readonly restUrl: string
  /** WebSocket API URL, as Binance's "wss://ws-api.binance.com:443/ws-api/v3": user data subscriptions. */
  readonly wsApiUrl: string
  /** Faults to inject, and the orders and balances the exchange holds. */
  readonly control: SimulatorControl
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number
  /** Closed candles generated so far, over all symbols. */
  readonly candlesServed: Effect.Effect<number>
  /**
   * The market's current time, ms: from `startTime`, advancing `interval` per candle (10 minutes per real
   * second at `speed` 10 and "1m"). A collector measures its candle lag against it.
   */
  readonly marketTime: Effect.Effect<number>
  /** Frames not sent to a client too slow to wait for (its send buffer stayed full); see `highWaterMark`. */
  readonly framesDropped: Effect.Effect<number>
  /** Bytes waiting in the sockets' send buffers now. */
  readonly bufferedBytes: Effect.Effect<number>
}>() {}

export interface SimulatedExchangeOptions {
  /** Interface to listen on; default "127.0.0.1". */
  readonly host?: string
  /** Port; default 0 (any free port, reported by the service). */
  readonly port?: number
  /** Symbols in any case; default ["btcusdt", "ethusdt"]. */
  readonly symbols?: ReadonlyArray<string>
  /** Kline interval: 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h or 1d; default "1m". */
  readonly interval?: string
  /** Seed of every walk; same seed, same candles. Default 42. */
  readonly seed?: number
  /** "realtime" (a candle per interval of wall time) or N candles per second per symbol; default 10. */
  readonly speed?: "realtime" | number
  /** Open time (ms) of the first candle, a multiple of the interval; default 2024-01-01T00:00:00Z. */
  readonly startTime?: number
  /** Open-kline frames sent before each closing frame, 0 to 59; default 2. */
  readonly updatesPerCandle?: number
  /** First price per symbol (any case); default BTCUSDT 42000, ETHUSDT 2300, others 100. */
  readonly startPrices?: Readonly<Record<string, number>>
  /** Closed candles kept per symbol for REST; default 1000. */
  readonly history?: number
  /** Interval of WebSocket ping frames; default 20 seconds, as Binance. */
  readonly pingInterval?: Duration.DurationInput
  /**
   * Bytes waiting in a client's send buffer above which the market pauses until it drains; default 1 MiB.
   * Memory stays bounded at any speed: a client above it for 1 second is stalled, its frames dropped
   * (counted in `framesDropped`) until it drains, and the market goes on for the others.
   */
  readonly highWaterMark?: number
  /** API keys of the one simulated account; without any, every signed request is refused (-2015). */
  readonly keys?: ReadonlyArray<SimulatorKey>
  /** The account's starting balances by asset (exact decimal strings); default 100000 of each quote asset. */
  readonly balances?: Readonly<Record<string, string>>
  /** Commission rate of every trade, taken from what the trade brings in; default "0.001" (Binance's 0.1%). */
  readonly commissionRate?: string
}

/** An option the simulator cannot work with; `option` names it as `SimulatedExchangeOptions` does. */
export class SimulatedExchangeConfigError extends Data.TaggedError("SimulatedExchangeConfigError")<{
  readonly option: string
  readonly value: unknown
  readonly reason: string
}> {
  override get message() {
    return `invalid simulated exchange option ${this.option}=${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/** The server could not listen (port taken, bad host). */
export class SimulatedExchangeStartError extends Data.TaggedError("SimulatedExchangeStartError")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message() {
    return `the simulated exchange could not listen on ${this.host}:${this.port}: ${String(this.cause)}`
  }
}

export const defaultStartTime = Date.UTC(2024, 0, 1)
const defaultStartPrices: Readonly<Record<string, number>> = { BTCUSDT: 42_000, ETHUSDT: 2_300 }

const invalid = (option: string, value: unknown, reason: string) =>
  Effect.fail(new SimulatedExchangeConfigError({ option, value, reason }))

const check = (ok: boolean, option: string, value: unknown, reason: string) =>
  ok ? Effect.void : invalid(option, value, reason)

/** Fills in the defaults and checks every option, failing with the first that cannot work. */
const resolve = (o: SimulatedExchangeOptions) =>
  Effect.gen(function*() {
    const host = o.host ?? "127.0.0.1"
    const port = o.port ?? 0
    const symbols = o.symbols ?? ["btcusdt", "ethusdt"]
    const interval = o.interval ?? "1m"
    const seed = o.seed ?? 42
    const speed = o.speed ?? 10
    const startTime = o.startTime ?? defaultStartTime
    const updatesPerCandle = o.updatesPerCandle ?? 2
    const history = o.history ?? 1000
    const highWaterMark = o.highWaterMark ?? 1024 * 1024
    const commissionRate = o.commissionRate ?? "0.001"
    yield* check(
      /^0(\.[0-9]{1,8})?$/.test(commissionRate),
      "commissionRate",
      commissionRate,
      "must be a decimal from 0 to below 1, such as \"0.001\""
    )
    for (const [asset, amount] of Object.entries(o.balances ?? {})) {
      yield* check(/^[0-9]{1,20}(\.[0-9]{1,8})?$/.test(amount), "balances", asset, "must be a decimal string >= 0")
    }
    for (const key of o.keys ?? []) {
      yield* check(key.apiKey.length > 0, "keys", key.type, "need a non-empty apiKey")
    }
    const startPrices = Object.fromEntries(Object.entries(o.startPrices ?? {}).map(([s, p]) => [s.toUpperCase(), p]))
    yield* check(host !== "", "host", host, "must not be empty")
    yield* check(Number.isInteger(port) && port >= 0 && port <= 65535, "port", port, "must be an integer 0-65535")
    yield* check(symbols.length > 0, "symbols", symbols, "must name at least one symbol")
    for (const symbol of symbols) {
      yield* check(/^[a-zA-Z0-9]{1,20}$/.test(symbol), "symbols", symbol, "must be letters and digits, such as btcusdt")
    }
    const upper = symbols.map((s) => s.toUpperCase())
    yield* check(new Set(upper).size === upper.length, "symbols", symbols, "must not repeat a symbol")
    const intervalMs = intervalMillis(interval)
    if (intervalMs === undefined) {
      return yield* invalid("interval", interval, `must be one of ${supportedIntervals.join(", ")}`)
    }
    yield* check(Number.isSafeInteger(seed), "seed", seed, "must be a safe integer")
    yield* check(
      speed === "realtime" || (typeof speed === "number" && Number.isFinite(speed) && speed > 0 && speed <= 10_000),
      "speed",
      speed,
      "must be \"realtime\" or candles per second, > 0 and <= 10000"
    )
    yield* check(
      Number.isSafeInteger(startTime) && startTime >= 0 && startTime % intervalMs === 0,
      "startTime",
      startTime,
      `must be epoch milliseconds >= 0 and a multiple of the interval (${intervalMs} ms)`
    )
    yield* check(
      Number.isInteger(updatesPerCandle) && updatesPerCandle >= 0 && updatesPerCandle < subSteps,
      "updatesPerCandle",
      updatesPerCandle,
      `must be an integer 0-${subSteps - 1}`
    )
    yield* check(Number.isSafeInteger(history) && history >= 1, "history", history, "must be an integer >= 1")
    yield* check(
      Number.isSafeInteger(highWaterMark) && highWaterMark >= 1024,
      "highWaterMark",
      highWaterMark,
      "must be an integer >= 1024 (bytes)"
    )
    for (const [symbol, price] of Object.entries(startPrices)) {
      yield* check(upper.includes(symbol), "startPrices", symbol, "names a symbol not in symbols")
      yield* check(Number.isFinite(price) && price >= 1e-6 && price <= 1e9, "startPrices", price, "must be 1e-6 to 1e9")
    }
    const ping = Duration.decodeUnknown(o.pingInterval ?? "20 seconds")
    if (ping._tag === "None" || !Duration.greaterThan(ping.value, Duration.zero)) {
      return yield* invalid("pingInterval", o.pingInterval, "must be a positive duration, such as \"20 seconds\"")
    }
    const specs: Array<WalkSpec> = upper.map((symbol) => {
      const startPrice = startPrices[symbol] ?? defaultStartPrices[symbol] ?? 100
      return { symbol, seed, interval, intervalMs, startTime, startPrice, ...decimalsFor(startPrice) }
    })
    const candleMillis = speed === "realtime" ? intervalMs : 1000 / speed
    return {
      host,
      port,
      interval,
      intervalMs,
      startTime,
      updatesPerCandle,
      history,
      candleMillis,
      specs,
      ping: ping.value,
      highWaterMark,
      keys: o.keys ?? [],
      commissionRate,
      balances: o.balances ??
        Object.fromEntries(specs.map((spec) => [spec.symbol.endsWith("USDT") ? "USDT" : spec.symbol.slice(-3), "100000"]))
    }
  })

const json = (status: number, body: unknown): RestResponse => ({ status, body: JSON.stringify(body) })

/** A URL host for a listening address: wildcards become loopback, IPv6 gets brackets. */
const urlHost = (host: string) =>
  host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host

/**
 * The exchange for as long as the scope is open: the server, the generator
 * and the ping loop. Closing the scope stops the generator and terminates
 * every socket.
 */
export const make = (options: SimulatedExchangeOptions = {}) =>
  Effect.gen(function*() {
    const config = yield* resolve(options)
    // the market tells the trading side each price; the trading side answers the market's REST paths too
    let trading: ReturnType<typeof makeTrading> | undefined = undefined
    const market = makeMarket(config, (symbol, price) => trading?.onPrice(symbol, price))
    // The market opens with its first subscriber, so that a client that connects at once sees every candle from
    // the first: runs on the same seed are then reproducible however long starting up took.
    const opened = yield* Effect.makeLatch(false)

    const marketRest = (url: URL): Effect.Effect<RestResponse | undefined> => {
      switch (url.pathname) {
        case "/api/v3/ping":
          return Effect.succeed(json(200, {}))
        case "/api/v3/klines":
          return Effect.sync(() => {
            const query = parseKlinesQuery(url.searchParams)
            if ("code" in query) return json(query.status, { code: query.code, msg: query.msg })
            const history = market.history(query.symbol)
            if (history === undefined) return json(invalidSymbol.status, { code: invalidSymbol.code, msg: invalidSymbol.msg })
            // a valid Binance interval other than the simulated one is not served
            if (query.interval !== config.interval) {
              return json(invalidInterval.status, { code: invalidInterval.code, msg: invalidInterval.msg })
            }
            return json(200, selectKlines(history, query).map(klineRow))
          })
        default:
          return Effect.succeed(undefined)
      }
    }

    trading = makeTrading({
      specs: config.specs,
      keys: config.keys,
      balances: config.balances,
      commissionRate: config.commissionRate,
      clock: yield* Effect.clock,
      marketRest
    })
    const server = yield* serve({
      host: config.host,
      port: config.port,
      rest: trading.rest,
      onWsApi: trading.onWsApi,
      knownStream: market.knownStream,
      onSubscribed: () => opened.unsafeOpen(),
      highWaterMark: config.highWaterMark,
      stallAfterMillis: 1000
    }).pipe(
      Effect.mapError((cause) => new SimulatedExchangeStartError({ host: config.host, port: config.port, cause }))
    )
    yield* opened.await.pipe(Effect.zipRight(market.run(server.broadcast, server.awaitRoom)), Effect.interruptible, Effect.forkScoped)
    yield* Effect.sleep(config.ping).pipe(
      Effect.andThen(Effect.sync(server.pingAll)),
      Effect.forever,
      Effect.interruptible,
      Effect.forkScoped
    )

    const base = `${urlHost(config.host)}:${server.port}`
    const wsUrl = `ws://${base}`
    const restUrl = `http://${base}`
    yield* Effect.logInfo("simulated exchange listening").pipe(
      Effect.annotateLogs({
        wsUrl,
        restUrl,
        streams: config.specs.map((s) => klineStream(s.symbol, config.interval)).join("/"),
        speed: options.speed ?? 10
      })
    )
    return SimulatedExchange.of({
      wsUrl,
      restUrl,
      wsApiUrl: `${wsUrl}/ws-api/v3`,
      control: trading.control,
      port: server.port,
      candlesServed: Effect.sync(market.candlesServed),
      marketTime: Effect.map(Clock.currentTimeMillis, market.simulatedTime),
      framesDropped: Effect.sync(server.framesDropped),
      bufferedBytes: Effect.sync(server.bufferedBytes)
    })
  })

/** The exchange as a scoped layer. Bind the result to a `const`: each call builds another exchange. */
export const layer = (
  options: SimulatedExchangeOptions = {}
): Layer.Layer<SimulatedExchange, SimulatedExchangeConfigError | SimulatedExchangeStartError> =>
  Layer.scoped(SimulatedExchange, make(options))
