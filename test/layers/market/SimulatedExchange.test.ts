import { describe, expect, it } from "@effect/vitest"
import * as Net from "node:net"
import { Context, Effect, Exit, Layer, Logger, LogLevel, Scope, TestClock } from "effect"
import { WebSocket } from "ws"
import {
  candleAt,
  defaultStartTime,
  layer,
  SimulatedExchange,
  type SimulatedExchangeOptions,
  type WalkSpec
} from "../../../src/layers/market/SimulatedExchange.js"
import {
  decimalsFor,
  formatUnits,
  initialState,
  snapshot,
  step,
  subSteps
} from "../../../src/layers/market/internal/simulator/RandomWalk.js"

// A kline frame Binance sent (bmoscon/cryptofeed sample data, 2021-08-14): the shape to match, key order included.
const recorded = JSON.parse(
  "{\"stream\":\"ftmusdt@kline_1m\",\"data\":{\"e\":\"kline\",\"E\":1628952396573,\"s\":\"FTMUSDT\",\"k\":{\"t\":1628952360000,\"T\":1628952419999,\"s\":\"FTMUSDT\",\"i\":\"1m\",\"f\":38248833,\"L\":38248910,\"o\":\"0.34064000\",\"c\":\"0.33993000\",\"h\":\"0.34070000\",\"l\":\"0.33934000\",\"v\":\"208601.00000000\",\"n\":78,\"x\":false,\"q\":\"70846.76968900\",\"V\":\"156046.30000000\",\"Q\":\"52984.16932200\",\"B\":\"0\"}}}"
)

interface K {
  t: number; T: number; s: string; i: string; f: number; L: number; o: string; c: string; h: string; l: string
  v: string; n: number; x: boolean; q: string; V: string; Q: string; B: string
}
interface KlineEvent {
  e: string
  E: number
  s: string
  k: K
}

interface Client {
  readonly ws: WebSocket
  readonly messages: Array<string>
  pings: number
  closed: boolean
}

const connect = (url: string) =>
  Effect.acquireRelease(
    Effect.async<Client, Error>((resume) => {
      const ws = new WebSocket(url)
      const client: Client = { ws, messages: [], pings: 0, closed: false }
      ws.on("message", (data) => client.messages.push(String(data)))
      ws.on("ping", () => client.pings++)
      ws.on("close", () => (client.closed = true))
      ws.once("open", () => resume(Effect.succeed(client)))
      ws.once("error", (error) => resume(Effect.fail(error)))
    }),
    (client) => Effect.sync(() => client.ws.terminate())
  )

/** Polls a condition on real I/O, failing after `ms`. */
const waitFor = (what: string, condition: () => boolean, ms = 5_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!condition()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("5 millis")
    }
  })

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, text: await response.text() }
  })
const getJson = (url: string) => Effect.map(get(url), (r) => ({ status: r.status, body: JSON.parse(r.text) as unknown }))

/** Starts an exchange in the current scope. */
const start = (options: SimulatedExchangeOptions) =>
  Layer.build(layer({ speed: 50, ...options })).pipe(
    Effect.map(Context.get(SimulatedExchange)),
    Logger.withMinimumLogLevel(LogLevel.Error)
  )

const eventsOf = (client: Client): Array<KlineEvent> =>
  client.messages.map((m) => JSON.parse(m) as { data: KlineEvent }).map((f) => f.data)
const closesOf = (client: Client, symbol: string) => eventsOf(client).filter((e) => e.s === symbol && e.k.x)

const decimal = /^\d+\.\d{8}$/
const spec = (symbol: string, startPrice: number, seed = 42): WalkSpec => ({
  symbol,
  seed,
  interval: "1m",
  intervalMs: 60_000,
  startTime: defaultStartTime,
  startPrice,
  ...decimalsFor(startPrice)
})

describe("SimulatedExchange", () => {
  describe("candleAt (the pure walk)", () => {
    it.effect("is deterministic, keeps OHLC invariants and formats prices on the tick as Binance does", () =>
      Effect.sync(() => {
        expect(candleAt(spec("BTCUSDT", 42_000), 17)).toEqual(candleAt(spec("BTCUSDT", 42_000), 17))
        expect(candleAt(spec("BTCUSDT", 42_000, 43), 17)).not.toEqual(candleAt(spec("BTCUSDT", 42_000), 17))
        expect(candleAt(spec("ETHUSDT", 42_000), 17)).not.toEqual(candleAt(spec("BTCUSDT", 42_000), 17))
        expect(formatUnits(4_200_012, 2)).toBe("42000.12000000")
        expect(formatUnits(5, 8)).toBe("0.00000005")
        expect(decimalsFor(42_000)).toEqual({ priceDecimals: 2, qtyDecimals: 5 })
        expect(decimalsFor(0.08)).toEqual({ priceDecimals: 6, qtyDecimals: 0 })

        for (const [symbol, price] of [["BTCUSDT", 42_000], ["ETHUSDT", 2_300], ["DOGEUSDT", 0.08]] as const) {
          const s = spec(symbol, price)
          const { priceDecimals } = s
          const onTick = new RegExp(`^\\d+\\.\\d{${priceDecimals}}0{${8 - priceDecimals}}$`)
          // walk incrementally (candleAt is O(k)) and check candleAt agrees on a few
          let state = step(s, initialState(s)).next
          let previous = candleAt(s, 0)
          for (let k = 1; k <= 300; k++) {
            const advanced = step(s, state)
            state = advanced.next
            const c = snapshot(advanced.path, subSteps)
            if (k % 100 === 0) expect(candleAt(s, k)).toEqual(c)
            const [o, h, l, cl, v, V] = [c.open, c.high, c.low, c.close, c.volume, c.takerBuyBase].map(Number)
            expect(c.openTime).toBe(defaultStartTime + k * 60_000)
            expect(c.closeTime).toBe(c.openTime + 59_999)
            expect(l).toBeLessThanOrEqual(Math.min(o!, cl!))
            expect(h).toBeGreaterThanOrEqual(Math.max(o!, cl!))
            expect(l).toBeGreaterThan(0)
            expect(v).toBeGreaterThan(0)
            expect(V).toBeLessThanOrEqual(v!)
            expect(c.trades).toBeGreaterThan(0)
            expect(c.lastTradeId - c.firstTradeId + 1).toBe(c.trades)
            expect(c.firstTradeId).toBe(previous.lastTradeId + 1)
            expect(c.open).toBe(previous.close)
            for (const p of [c.open, c.high, c.low, c.close]) expect(p).toMatch(onTick)
            for (const d of [c.volume, c.quoteVolume, c.takerBuyBase, c.takerBuyQuote]) expect(d).toMatch(decimal)
            expect(c.isClosed).toBe(true)
            previous = c
          }
        }
      }))
  })

  describe("the generator", () => {
    it.scoped("runs on Effect's Clock: TestClock drives it, one candle per symbol per 1/speed second", () =>
      Effect.gen(function*() {
        // speed 10 with 1 update per candle: a frame phase every 50 ms
        const exchange = yield* start({ speed: 10, updatesPerCandle: 1 })
        const advance = (phases: number) =>
          Effect.gen(function*() {
            for (let i = 0; i < phases; i++) {
              yield* TestClock.adjust("50 millis")
              yield* Effect.yieldNow()
            }
          })
        // the market opens with its first subscriber: until then no time makes a candle
        yield* advance(10)
        expect(yield* exchange.candlesServed).toBe(0)
        yield* connect(`${exchange.wsUrl}/stream?streams=btcusdt@kline_1m`)
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
        expect(yield* exchange.candlesServed).toBe(0)
        yield* advance(1)
        expect(yield* exchange.candlesServed).toBe(0)
        yield* advance(1)
        expect(yield* exchange.candlesServed).toBe(2)
        yield* advance(18)
        expect(yield* exchange.candlesServed).toBe(20)
      }))
  })

  describe("WebSocket streams", () => {
    it.scopedLive("sends Binance-shaped combined-stream frames: updates, then the close, openTimes one interval apart", () =>
      Effect.gen(function*() {
        const exchange = yield* start({})
        const client = yield* connect(`${exchange.wsUrl}/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m`)
        yield* waitFor("4 closes per symbol", () =>
          closesOf(client, "BTCUSDT").length >= 4 && closesOf(client, "ETHUSDT").length >= 4)

        const frames = client.messages.map((m) => JSON.parse(m) as { stream: string; data: KlineEvent })
        for (const frame of frames) {
          expect(Object.keys(frame)).toEqual(Object.keys(recorded))
          expect(Object.keys(frame.data)).toEqual(Object.keys(recorded.data))
          expect(Object.keys(frame.data.k)).toEqual(Object.keys(recorded.data.k))
          for (const key of Object.keys(recorded.data.k)) {
            expect(typeof (frame.data.k as unknown as Record<string, unknown>)[key]).toBe(typeof recorded.data.k[key])
          }
          expect(frame.stream).toBe(`${frame.data.s.toLowerCase()}@kline_1m`)
          expect(frame.data.e).toBe("kline")
          expect(frame.data.k.s).toBe(frame.data.s)
          expect(frame.data.k.i).toBe("1m")
          expect(frame.data.k.T).toBe(frame.data.k.t + 59_999)
          expect(frame.data.E).toBeGreaterThan(frame.data.k.t)
          expect(frame.data.E).toBeLessThanOrEqual(frame.data.k.T + 1)
          for (const key of ["o", "c", "h", "l", "v", "q", "V", "Q"] as const) expect(frame.data.k[key]).toMatch(decimal)
          expect(frame.data.k.B).toBe("0")
        }

        for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
          const events = frames.map((f) => f.data).filter((e) => e.s === symbol)
          // after the first close, each candle is exactly 2 updates (updatesPerCandle) then its close
          const firstClose = events.findIndex((e) => e.k.x)
          const rest = events.slice(firstClose + 1)
          const candles = Math.floor(rest.length / 3)
          expect(candles).toBeGreaterThanOrEqual(3)
          let previous = events[firstClose]!
          for (let c = 0; c < candles; c++) {
            const [u1, u2, close] = rest.slice(c * 3, c * 3 + 3) as [KlineEvent, KlineEvent, KlineEvent]
            expect([u1.k.x, u2.k.x, close.k.x]).toEqual([false, false, true])
            expect(u1.k.t).toBe(previous.k.t + 60_000)
            expect(u2.k.t).toBe(u1.k.t)
            expect(close.k.t).toBe(u1.k.t)
            expect(u1.k.f).toBe(previous.k.L + 1)
            expect(u1.k.n).toBeLessThan(u2.k.n)
            expect(u2.k.n).toBeLessThan(close.k.n)
            expect(close.k.L - close.k.f + 1).toBe(close.k.n)
            expect(u1.E).toBeLessThan(u2.E)
            expect(u2.E).toBeLessThan(close.E)
            previous = close
          }
        }
        expect(yield* exchange.candlesServed).toBeGreaterThanOrEqual(8)
      }))

    it.scopedLive("serves raw /ws/<stream> frames and live SUBSCRIBE on /ws; unknown streams carry nothing", () =>
      Effect.gen(function*() {
        const exchange = yield* start({})
        const raw = yield* connect(`${exchange.wsUrl}/ws/ethusdt@kline_1m`)
        const live = yield* connect(`${exchange.wsUrl}/ws`)
        const unknown = yield* connect(`${exchange.wsUrl}/stream?streams=xrpusdt@kline_1m/btcusdt@kline_5m`)
        live.ws.send(JSON.stringify({ method: "SUBSCRIBE", params: ["btcusdt@kline_1m"], id: 1 }))
        yield* waitFor("frames on both", () => raw.messages.length >= 3 && live.messages.length >= 4)
        const rawEvent = JSON.parse(raw.messages[0]!) as KlineEvent
        expect(Object.keys(rawEvent)).toEqual(Object.keys(recorded.data))
        expect(raw.messages.map((m) => (JSON.parse(m) as KlineEvent).s)).toEqual(raw.messages.map(() => "ETHUSDT"))
        expect(JSON.parse(live.messages[0]!)).toEqual({ result: null, id: 1 })
        expect((JSON.parse(live.messages[1]!) as KlineEvent).s).toBe("BTCUSDT")

        live.ws.send(JSON.stringify({ method: "LIST_SUBSCRIPTIONS", id: 2 }))
        live.ws.send("not json")
        yield* waitFor("replies", () => live.messages.some((m) => m.includes("\"id\":2")) && live.messages.some((m) => m.includes("\"code\":3")))
        expect(live.messages.map((m) => JSON.parse(m))).toContainEqual({ result: ["btcusdt@kline_1m"], id: 2 })
        expect(unknown.messages).toEqual([])
        expect(unknown.closed).toBe(false)
      }))

    it.scopedLive("sends ping frames every pingInterval", () =>
      Effect.gen(function*() {
        const exchange = yield* start({ pingInterval: "40 millis" })
        const client = yield* connect(`${exchange.wsUrl}/ws/btcusdt@kline_1m`)
        yield* waitFor("3 pings", () => client.pings >= 3, 2_000)
      }))

    it.scopedLive("refuses an upgrade on an unknown path with 404", () =>
      Effect.gen(function*() {
        const exchange = yield* start({})
        const error = yield* Effect.flip(connect(`${exchange.wsUrl}/nope`))
        expect(error.message).toContain("404")
      }))
  })

  describe("determinism", () => {
    it.scopedLive("gives the same candles for the same seed on two exchanges, and others for another seed", () =>
      Effect.gen(function*() {
        const a = yield* start({ seed: 7 })
        const b = yield* start({ seed: 7, speed: 80 })
        const c = yield* start({ seed: 8 })
        const klines = (e: typeof a) => getJson(`${e.restUrl}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5`)
        const firstFive = (e: typeof a) =>
          getJson(`${e.restUrl}/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=${defaultStartTime}&limit=5`)
        // each market opens with its first subscriber
        yield* Effect.forEach([a, b, c], (e) => connect(`${e.wsUrl}/stream?streams=btcusdt@kline_1m`))
        yield* Effect.forEach([a, b, c], (e) =>
          Effect.gen(function*() {
            while ((yield* e.candlesServed) < 12) yield* Effect.sleep("10 millis")
          }))
        const [ra, rb, rc] = yield* Effect.all([firstFive(a), firstFive(b), firstFive(c)])
        expect((ra.body as Array<unknown>).length).toBe(5)
        expect(rb.body).toEqual(ra.body)
        expect(rc.body).not.toEqual(ra.body)
        // the REST rows are the pure function's candles
        const third = candleAt(spec("BTCUSDT", 42_000, 7), 2)
        expect((ra.body as Array<Array<unknown>>)[2]).toEqual([
          third.openTime, third.open, third.high, third.low, third.close, third.volume, third.closeTime,
          third.quoteVolume, third.trades, third.takerBuyBase, third.takerBuyQuote, "0"
        ])
        expect((yield* klines(a)).status).toBe(200)
      }))
  })

  describe("REST", () => {
    it.scopedLive("returns the closed candles the stream sent, filtered and limited as Binance does", () =>
      Effect.gen(function*() {
        const exchange = yield* start({ history: 50 })
        const client = yield* connect(`${exchange.wsUrl}/stream?streams=btcusdt@kline_1m`)
        yield* waitFor("5 closes", () => closesOf(client, "BTCUSDT").length >= 5)
        const closes = closesOf(client, "BTCUSDT").slice(0, 5)
        const url = `${exchange.restUrl}/api/v3/klines?symbol=BTCUSDT&interval=1m`
        const rows = (yield* getJson(`${url}&startTime=${closes[0]!.k.t}&limit=5`)).body as Array<Array<unknown>>
        expect(rows.map((r) => r.length)).toEqual([12, 12, 12, 12, 12])
        expect(rows).toEqual(closes.map(({ k }) => [k.t, k.o, k.h, k.l, k.c, k.v, k.T, k.q, k.n, k.V, k.Q, "0"]))

        const fromSecond = (yield* getJson(`${url}&startTime=${closes[1]!.k.t + 1}&limit=2`)).body as Array<Array<number>>
        expect(fromSecond.map((r) => r[0])).toEqual([closes[2]!.k.t, closes[3]!.k.t])
        const upTo = (yield* getJson(`${url}&endTime=${closes[3]!.k.t}&limit=2`)).body as Array<Array<number>>
        expect(upTo.map((r) => r[0])).toEqual([closes[2]!.k.t, closes[3]!.k.t])
        const range = (yield* getJson(`${url}&startTime=${closes[1]!.k.t}&endTime=${closes[2]!.k.t}`)).body as Array<unknown>
        expect(range.length).toBe(2)
        // the open candle is not served; the most recent `limit` closed ones are
        const latest = (yield* getJson(`${url}&limit=1`)).body as Array<Array<number>>
        expect(latest[0]![6]).toBeLessThan(((yield* getJson(`${exchange.restUrl}/api/v3/time`)).body as { serverTime: number }).serverTime)

        // history is bounded
        yield* waitFor("more than 50 candles", () => closesOf(client, "BTCUSDT").length > 55)
        expect(((yield* getJson(`${url}&limit=1000`)).body as Array<unknown>).length).toBe(50)
      }))

    it.scopedLive("answers errors, ping and time like Binance", () =>
      Effect.gen(function*() {
        const exchange = yield* start({})
        const api = `${exchange.restUrl}/api/v3`
        expect(yield* getJson(`${api}/klines?symbol=XRPUSDT&interval=1m`)).toEqual({
          status: 400,
          body: { code: -1121, msg: "Invalid symbol." }
        })
        expect(yield* getJson(`${api}/klines?symbol=BTCUSDT&interval=7m`)).toEqual({
          status: 400,
          body: { code: -1120, msg: "Invalid interval." }
        })
        expect((yield* getJson(`${api}/klines?symbol=BTCUSDT&interval=5m`)).body).toMatchObject({ code: -1120 })
        expect((yield* getJson(`${api}/klines?interval=1m`)).body).toMatchObject({ code: -1102 })
        expect((yield* getJson(`${api}/klines?symbol=btcusdt&interval=1m`)).body).toMatchObject({ code: -1100 })
        expect((yield* getJson(`${api}/klines?symbol=BTCUSDT&interval=1m&limit=ten`)).body).toMatchObject({ code: -1100 })
        expect((yield* get(`${api}/nope`)).status).toBe(404)
        expect((yield* get(`${exchange.restUrl}/`)).status).toBe(404)
        expect(yield* getJson(`${api}/ping`)).toEqual({ status: 200, body: {} })
        // the server's clock is the real one (signed requests are checked against it), not the market's
        const before = Date.now()
        const time = (yield* getJson(`${api}/time`)).body as { serverTime: number }
        expect(time.serverTime).toBeGreaterThanOrEqual(before)
        expect(time.serverTime).toBeLessThanOrEqual(Date.now())
      }))
  })

  describe("lifecycle", () => {
    it.live("closes the server and its sockets with the scope, freeing the port", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const exchange = yield* start({}).pipe(Scope.extend(scope))
        const client = yield* connect(`${exchange.wsUrl}/ws/btcusdt@kline_1m`).pipe(Scope.extend(scope))
        yield* waitFor("a frame", () => client.messages.length > 0)
        expect((yield* get(`${exchange.restUrl}/api/v3/ping`)).status).toBe(200) // leaves a keep-alive connection
        yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("2 seconds"))
        yield* waitFor("the client to see the close", () => client.closed, 2_000)
        const served = yield* exchange.candlesServed
        yield* Effect.sleep("100 millis")
        expect(yield* exchange.candlesServed).toBe(served)
        // the port can be bound again
        yield* Effect.async<void, Error>((resume) => {
          const server = Net.createServer()
          server.once("error", (e) => resume(Effect.fail(e)))
          server.listen(exchange.port, "127.0.0.1", () => server.close(() => resume(Effect.void)))
        })
      }))

    it.scopedLive("fails to start on a taken port with SimulatedExchangeStartError", () =>
      Effect.gen(function*() {
        const first = yield* start({})
        const error = yield* Effect.flip(start({ port: first.port }))
        expect(error._tag).toBe("SimulatedExchangeStartError")
      }))

    it.effect("fails with SimulatedExchangeConfigError naming the invalid option", () =>
      Effect.gen(function*() {
        const cases: Array<[SimulatedExchangeOptions, string]> = [
          [{ interval: "7m" }, "interval"],
          [{ interval: "1w" }, "interval"],
          [{ speed: 0 }, "speed"],
          [{ speed: Number.NaN }, "speed"],
          [{ seed: 1.5 }, "seed"],
          [{ symbols: [] }, "symbols"],
          [{ symbols: ["btc/usdt"] }, "symbols"],
          [{ symbols: ["btcusdt", "BTCUSDT"] }, "symbols"],
          [{ startTime: defaultStartTime + 1 }, "startTime"],
          [{ updatesPerCandle: 60 }, "updatesPerCandle"],
          [{ updatesPerCandle: -1 }, "updatesPerCandle"],
          [{ history: 0 }, "history"],
          [{ port: 70_000 }, "port"],
          [{ startPrices: { btcusdt: -1 } }, "startPrices"],
          [{ startPrices: { solusdt: 150 } }, "startPrices"],
          [{ pingInterval: 0 }, "pingInterval"]
        ]
        for (const [options, option] of cases) {
          const error = yield* Effect.flip(Effect.scoped(start(options)))
          expect(error._tag).toBe("SimulatedExchangeConfigError")
          expect(error._tag === "SimulatedExchangeConfigError" && error.option).toBe(option)
        }
      }))
  })
})
