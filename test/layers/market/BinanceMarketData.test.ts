import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Queue, Scope } from "effect"
import { readFileSync } from "node:fs"
import * as BinanceMarketData from "../../../src/layers/market/BinanceMarketData.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as BinanceTestServer from "../../support/BinanceTestServer.js"
import { klineFrame, klineRow, klineRows, minute, t0 } from "../../support/BinanceTestServer.js"
import { infrastructure, openTimesOf, start, summary, take, within } from "./collectorHarness.js"

const dataFile = (name: string) =>
  readFileSync(new URL(`../../fixtures/binance/${name}`, import.meta.url), "utf8").split("\n").filter((l) => l !== "")

describe("BinanceMarketData", () => {
  it.scopedLive("publishes closed klines of several symbols in order, and no updates by default", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events, marketData } = yield* start(server, { symbols: ["btcusdt", "ETHUSDT"] })
      const conn = yield* within(server.nextConnection)
      expect(conn.path).toBe("/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m")
      yield* conn.send(
        klineFrame({ symbol: "btcusdt", openTime: t0, closed: false }),
        klineFrame({ symbol: "ethusdt", openTime: t0, closed: false }),
        klineFrame({ symbol: "btcusdt", openTime: t0, closed: true, close: 101.5, trades: 7 }),
        klineFrame({ symbol: "btcusdt", openTime: t0 + minute, closed: false }),
        klineFrame({ symbol: "ethusdt", openTime: t0, closed: true }),
        klineFrame({ symbol: "btcusdt", openTime: t0 + minute, closed: true }),
        klineFrame({ symbol: "ethusdt", openTime: t0 + minute, closed: true })
      )
      const got = yield* take(events, 4)
      expect(got.map(summary)).toEqual([
        ["CandleClosed", "BTCUSDT", 0],
        ["CandleClosed", "ETHUSDT", 0],
        ["CandleClosed", "BTCUSDT", 1],
        ["CandleClosed", "ETHUSDT", 1]
      ])
      expect(got[0]!.source).toBe("binance")
      expect(got[0]!.payload).toEqual({
        symbol: "BTCUSDT",
        interval: "1m",
        openTime: t0,
        closeTime: t0 + minute - 1,
        open: 99,
        high: 120,
        low: 90,
        close: 101.5,
        volume: 12.5,
        quoteVolume: 1250,
        trades: 7,
        isClosed: true
      })
      expect(yield* Queue.size(events)).toBe(0) // the open klines published nothing
      expect(marketData.name).toBe("binance")
      expect(yield* marketData.stats).toEqual({
        messages: 7,
        malformed: 0,
        ignored: 0,
        reconnects: 0,
        connectionFailures: 0,
        backfilled: 0,
        gaps: 0,
        candles: 4,
        connected: true
      })
    }))

  it.scopedLive("publishes open klines as throttled CandleUpdates when enabled", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events } = yield* start(server, {
        symbols: ["btcusdt", "ethusdt"],
        candleUpdates: true,
        updateThrottle: "300 millis"
      })
      const conn = yield* within(server.nextConnection)
      yield* conn.send(
        klineFrame({ symbol: "btcusdt", openTime: t0, closed: false, close: 1 }),
        klineFrame({ symbol: "btcusdt", openTime: t0, closed: false, close: 2 }), // throttled
        klineFrame({ symbol: "ethusdt", openTime: t0, closed: false }),
        klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }),
        klineFrame({ symbol: "btcusdt", openTime: t0 + minute, closed: false }) // throttled
      )
      const first = yield* take(events, 3)
      expect(first.map(summary)).toEqual([
        ["CandleUpdate", "BTCUSDT", 0],
        ["CandleUpdate", "ETHUSDT", 0],
        ["CandleClosed", "BTCUSDT", 0]
      ])
      expect(first[0]!.payload.close).toBe(1)
      expect(first[0]!.payload.isClosed).toBe(false)
      yield* Effect.sleep("350 millis")
      yield* conn.send(
        klineFrame({ symbol: "btcusdt", openTime: t0 + minute, closed: false, close: 3 }),
        klineFrame({ symbol: "btcusdt", openTime: t0, closed: false }) // stale: before the last closed candle
      )
      const [later] = yield* take(events, 1)
      expect(summary(later!)).toEqual(["CandleUpdate", "BTCUSDT", 1])
      expect(later!.payload.close).toBe(3)
    }))

  it.scopedLive("reconnects after a drop and backfills over REST with no gap and no duplicate", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events, marketData } = yield* start(server, { symbols: ["btcusdt", "ethusdt"] })
      const conn1 = yield* within(server.nextConnection)
      yield* conn1.send(
        klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }),
        klineFrame({ symbol: "ethusdt", openTime: t0, closed: true }),
        klineFrame({ symbol: "btcusdt", openTime: t0 + minute, closed: false })
      )
      const before = yield* take(events, 2)
      // while the client is away BTC closes t1..t4 (t5 is still open), ETH closes t1..t3
      yield* server.setKlines("BTCUSDT", [
        ...klineRows(t0, 5),
        klineRow(t0 + 5 * minute, { closeTime: Date.now() + minute })
      ])
      yield* server.setKlines("ETHUSDT", klineRows(t0, 4))
      yield* conn1.drop
      const conn2 = yield* within(server.nextConnection)
      expect(conn2.path).toBe(conn1.path)
      // sent at once: they wait behind the backfill; BTC t4 is a duplicate of a backfilled candle
      yield* conn2.send(
        klineFrame({ symbol: "btcusdt", openTime: t0 + 4 * minute, closed: true }),
        klineFrame({ symbol: "btcusdt", openTime: t0 + 5 * minute, closed: true }),
        klineFrame({ symbol: "ethusdt", openTime: t0 + 4 * minute, closed: true }),
        klineFrame({ symbol: "btcusdt", openTime: t0 + 6 * minute, closed: true })
      )
      const after = yield* take(events, 10)
      const all = [...before, ...after]
      expect(all.every((e) => e.type === "CandleClosed")).toBe(true)
      expect(openTimesOf(all, "BTCUSDT")).toEqual([0, 1, 2, 3, 4, 5, 6])
      expect(openTimesOf(all, "ETHUSDT")).toEqual([0, 1, 2, 3, 4])
      expect(yield* Queue.size(events)).toBe(0)
      const requests = yield* server.restRequests
      // the symbols are backfilled concurrently: their requests may come in either order
      const bySymbol = [...requests].sort((x, y) => (x.params["symbol"] ?? "").localeCompare(y.params["symbol"] ?? ""))
      expect(bySymbol.map((r) => [r.path, r.params])).toEqual([
        ["/api/v3/klines", { symbol: "BTCUSDT", interval: "1m", startTime: String(t0 + 1), limit: "1000" }],
        ["/api/v3/klines", { symbol: "ETHUSDT", interval: "1m", startTime: String(t0 + 1), limit: "1000" }]
      ])
      expect(yield* marketData.stats).toEqual({
        messages: 7,
        malformed: 0,
        ignored: 0,
        reconnects: 1,
        connectionFailures: 0,
        backfilled: 7,
        gaps: 0,
        candles: 12,
        connected: true
      })
    }))

  it.scopedLive("paginates a backfill of more than 1000 candles, and the sliding data queue drops none of them", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      // a data queue smaller than the backfill: the collector must wait for room rather than push candles out
      const { events, marketData } = yield* start(server, { symbols: ["btcusdt"] }, { dataCapacity: 100 })
      const conn1 = yield* within(server.nextConnection)
      yield* conn1.send(klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }))
      yield* take(events, 1)
      yield* server.setKlines("BTCUSDT", klineRows(t0, 1206))
      yield* conn1.drop
      yield* within(server.nextConnection)
      const got = yield* take(events, 1205)
      expect(got.map((e) => (e.payload.openTime - t0) / minute)).toEqual(Array.from({ length: 1205 }, (_, i) => i + 1))
      const requests = yield* server.restRequests
      expect(requests.map((r) => Number(r.params["startTime"]))).toEqual([t0 + 1, t0 + 1000 * minute + 1])
      expect((yield* marketData.stats).backfilled).toBe(1205)
    }))

  it.scopedLive("counts and skips malformed frames, ignores other streams' frames, and the stream goes on", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events, logs, marketData } = yield* start(server, { symbols: ["btcusdt"], malformedLogInterval: 0 })
      const conn = yield* within(server.nextConnection)
      const bookTicker = dataFile("ws_combined_stream_2021-08-14.jsonl").find((l) => l.includes("@bookTicker"))!
      const rawKline = dataFile("ws_single_samples.jsonl")[0]! // non-combined: never sent on /stream
      const mismatched = klineFrame({ symbol: "btcusdt", openTime: t0, closed: true })
      yield* conn.send(
        "not json {",
        { stream: "btcusdt@kline_1m", data: { e: "kline", E: 1 } },
        klineFrame({ symbol: "dogeusdt", openTime: t0, closed: true }),
        bookTicker,
        rawKline,
        { ...mismatched, data: { ...mismatched.data, k: { ...mismatched.data.k, s: "ETHUSDT" } } },
        "x".repeat(5000),
        klineFrame({ symbol: "btcusdt", openTime: t0, closed: true })
      )
      const [event] = yield* take(events, 1)
      expect(summary(event!)).toEqual(["CandleClosed", "BTCUSDT", 0])
      yield* conn.send("[]", klineFrame({ symbol: "btcusdt", openTime: t0 + minute, closed: true }))
      const [next] = yield* take(events, 1)
      expect(summary(next!)).toEqual(["CandleClosed", "BTCUSDT", 1])
      expect(yield* marketData.stats).toEqual({
        messages: 10,
        malformed: 7,
        ignored: 1, // the bookTicker frame: well-formed, of a stream we do not handle
        reconnects: 0,
        connectionFailures: 0,
        backfilled: 0,
        gaps: 0,
        candles: 2,
        connected: true
      })
      expect(yield* server.connectionCount).toBe(1)
      const warnings = logs.filter((l) => l.message === "binance: skipped a malformed frame")
      expect(warnings).toHaveLength(7)
      expect(warnings.every((w) => w.level === "WARN")).toBe(true)
      expect(warnings.map((w) => w.annotations["reason"])).toEqual([
        "not JSON",
        "at [data.s]: is missing",
        "unknown stream dogeusdt@kline_1m",
        expect.stringContaining("at [stream]: is missing"),
        "kline does not match btcusdt@kline_1m",
        "not JSON",
        expect.stringContaining("at []")
      ])
      expect(warnings[0]!.annotations["sample"]).toBe("not json {")
      expect(warnings[5]!.annotations["sample"]).toBe(`${"x".repeat(200)}...`)
    }))

  it.scopedLive("reconnects when the server goes silent, not while frames keep coming", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { marketData } = yield* start(server, { symbols: ["btcusdt"], silenceTimeout: "300 millis" })
      const conn1 = yield* within(server.nextConnection)
      for (let i = 0; i < 6; i++) {
        yield* Effect.sleep("100 millis")
        yield* conn1.send(klineFrame({ symbol: "btcusdt", openTime: t0, closed: false }))
      }
      expect(yield* server.connectionCount).toBe(1)
      const silentSince = Date.now()
      yield* within(conn1.closed)
      yield* within(server.nextConnection)
      expect(Date.now() - silentSince).toBeGreaterThanOrEqual(250)
      expect((yield* marketData.stats).reconnects).toBe(1)
    }))

  it.scopedLive("answers the server's ping with a pong carrying its payload", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events, marketData } = yield* start(server, { symbols: ["btcusdt"] })
      const conn = yield* within(server.nextConnection)
      const pong = yield* within(conn.ping("binance-ping-1718667728540"))
      expect(pong).toBe("binance-ping-1718667728540")
      yield* conn.send(klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }))
      yield* take(events, 1)
      expect((yield* marketData.stats).reconnects).toBe(0)
    }))

  it.scopedLive("waits Retry-After on a 429 from the backfill, retries other failures with backoff", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events, marketData } = yield* start(server, { symbols: ["btcusdt"] })
      const conn1 = yield* within(server.nextConnection)
      yield* conn1.send(klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }))
      yield* take(events, 1)
      yield* server.setKlines("BTCUSDT", klineRows(t0, 3))
      yield* server.failRest({ status: 500 }, { status: 429, retryAfter: 1 })
      yield* conn1.drop
      yield* within(server.nextConnection)
      const got = yield* take(events, 2)
      expect(got.map(summary)).toEqual([["CandleClosed", "BTCUSDT", 1], ["CandleClosed", "BTCUSDT", 2]])
      const [first, second, third] = yield* server.restRequests
      expect(second!.at - first!.at).toBeLessThan(900) // backoff from 50 ms
      expect(third!.at - second!.at).toBeGreaterThanOrEqual(950) // Retry-After: 1
      expect((yield* marketData.stats).backfilled).toBe(2)
    }))

  it.scopedLive("opens one connection per maxStreamsPerConnection streams", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events, marketData } = yield* start(server, {
        symbols: ["btcusdt", "ethusdt", "solusdt"],
        maxStreamsPerConnection: 2
      })
      const conns = [yield* within(server.nextConnection), yield* within(server.nextConnection)]
      expect(conns.map((c) => c.streams).sort((a, b) => b.length - a.length)).toEqual([
        ["btcusdt@kline_1m", "ethusdt@kline_1m"],
        ["solusdt@kline_1m"]
      ])
      for (const conn of conns) {
        yield* conn.send(...conn.streams.map((s) => klineFrame({ symbol: s.split("@")[0]!, openTime: t0, closed: true })))
      }
      const got = yield* take(events, 3)
      expect(got.map((e) => e.payload.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT", "SOLUSDT"])
      expect((yield* marketData.stats).connected).toBe(true)
    }))

  it.scopedLive("reconnects at once when a connection reaches maxConnectionAge", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { marketData } = yield* start(server, {
        symbols: ["btcusdt"],
        maxConnectionAge: "300 millis",
        backoffBase: "5 seconds",
        backoffMax: "5 seconds"
      })
      const conn1 = yield* within(server.nextConnection)
      yield* within(conn1.closed)
      yield* Effect.timeout(server.nextConnection, "1 second") // no 5 s backoff
      expect((yield* marketData.stats).reconnects).toBe(1)
    }))

  it.live("closes its connections when its scope closes", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const server = yield* Scope.extend(BinanceTestServer.make, outer)
      const inner = yield* Scope.make()
      yield* Scope.extend(start(server, { symbols: ["btcusdt"] }), inner)
      const conn = yield* within(server.nextConnection)
      yield* within(Scope.close(inner, Exit.void))
      yield* within(conn.closed)
      yield* Effect.sleep("200 millis")
      expect(yield* server.connectionCount).toBe(1)
      yield* Scope.close(outer, Exit.void)
    }))

  it.scopedLive("fails to build with BinanceConfigError naming an invalid option", () =>
    Effect.gen(function*() {
      const build = (options: BinanceMarketData.BinanceMarketDataOptions) =>
        Layer.build(
          BinanceMarketData.layer(options).pipe(
            Layer.provide(Layer.mergeAll(MemoryEventBus.layer(), infrastructure))
          )
        ).pipe(Effect.flip)
      const cases: ReadonlyArray<readonly [string, Partial<BinanceMarketData.BinanceMarketDataOptions>]> = [
        ["symbols", { symbols: [] }],
        ["symbols", { symbols: ["btc-usdt"] }],
        ["interval", { interval: "7m" }],
        ["wsUrl", { wsUrl: "https://stream.binance.com" }],
        ["restUrl", { restUrl: "not a url" }],
        ["silenceTimeout", { silenceTimeout: "0 millis" }],
        ["updateThrottle", { updateThrottle: "soon" as never }],
        ["maxStreamsPerConnection", { maxStreamsPerConnection: 1025 }],
        ["maxStreamsPerConnection", { maxStreamsPerConnection: 1.5 }],
        ["backoffMax", { backoffBase: "2 seconds", backoffMax: "1 second" }],
        ["maxConnectionAge", { maxConnectionAge: Infinity }],
        ["requestTimeout", { requestTimeout: -1 }],
        ["backfillMaxAttempts", { backfillMaxAttempts: 0 }]
      ]
      for (const [option, override] of cases) {
        const error = yield* build({ symbols: ["btcusdt"], interval: "1m", ...override })
        expect(error).toBeInstanceOf(BinanceMarketData.BinanceConfigError)
        expect(error._tag === "BinanceConfigError" && error.option).toBe(option)
      }
    }))
})
