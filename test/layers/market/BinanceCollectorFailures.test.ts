import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Metric, Queue } from "effect"
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Metrics from "../../../src/domain/Metrics.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as BinanceMarketData from "../../../src/layers/market/BinanceMarketData.js"
import * as BinanceTestServer from "../../support/BinanceTestServer.js"
import { klineFrame, klineRows, minute, t0 } from "../../support/BinanceTestServer.js"
import { infrastructure, type LogLine, start, summary, take, within } from "./collectorHarness.js"

const dataFile = (name: string) =>
  readFileSync(new URL(`../../fixtures/binance/${name}`, import.meta.url), "utf8").split("\n").filter((l) => l !== "")

/** A port nothing listens on: bound, then closed. */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = Http.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
)

const eventually = <A>(check: Effect.Effect<A | undefined>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const value = yield* check
      if (value !== undefined) return value
      yield* Effect.sleep("25 millis")
    }
    throw new Error("eventually: the condition never held")
  })

const warningsOf = (logs: ReadonlyArray<LogLine>, text: string) => logs.filter((l) => l.message.includes(text))

describe("BinanceMarketData, when things fail", () => {
  it.scopedLive("names the host and the cause of a failed connection, counts it and keeps retrying", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const port = yield* closedPort
      const httpPort = new URL(server.restUrl).port
      const cases = [
        [`ws://user:s3cret@127.0.0.1:${port}`, `cannot connect to 127.0.0.1:${port}: connection to 127.0.0.1:${port} refused`],
        ["ws://nonexistent.invalid", "cannot connect to nonexistent.invalid:80: DNS lookup of nonexistent.invalid failed"],
        [`wss://127.0.0.1:${httpPort}`, `cannot connect to 127.0.0.1:${httpPort}: TLS with 127.0.0.1:${httpPort} failed`]
      ] as const
      for (const [wsUrl, expected] of cases) {
        const { logs, marketData } = yield* start(server, { symbols: ["btcusdt"], wsUrl })
        const failures = yield* eventually(
          Effect.map(marketData.stats, (s) => (s.connectionFailures ?? 0) >= 3 ? s.connectionFailures : undefined)
        )
        expect(failures).toBeGreaterThanOrEqual(3)
        const lines = warningsOf(logs, "cannot connect")
        expect(lines.length).toBeGreaterThanOrEqual(3)
        expect(lines[0]!.message).toContain(expected)
        expect(lines[0]!.message).toMatch(/retrying in \d+ ms$/)
        expect(logs.some((l) => l.message.includes("An error occurred during Open"))).toBe(false)
        expect(logs.some((l) => l.message.includes("s3cret"))).toBe(false)
        expect((yield* marketData.stats).connected).toBe(false)
      }
      const counted = yield* Metric.value(Metrics.labelled(Metrics.collectorConnectionFailuresTotal, "source")("binance"))
      expect(counted.count).toBeGreaterThanOrEqual(9)
    }))

  it.scopedLive("lets live candles flow while a failing backfill retries, then reports each gap given up on", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { errors, events, marketData } = yield* start(server, {
        symbols: ["btcusdt", "ethusdt", "solusdt"],
        gapHold: "1 second",
        backfillMaxAttempts: 1000
      })
      const conn1 = yield* within(server.nextConnection)
      yield* conn1.send(
        klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }),
        klineFrame({ symbol: "ethusdt", openTime: t0, closed: true })
      )
      yield* take(events, 2)
      yield* server.failRest(...Array.from({ length: 1000 }, () => ({ status: 503 })))
      yield* conn1.drop
      const conn2 = yield* within(server.nextConnection)
      const sentAt = Date.now()
      yield* conn2.send(
        klineFrame({ symbol: "btcusdt", openTime: t0 + 5 * minute, closed: true }),
        klineFrame({ symbol: "solusdt", openTime: t0 + 5 * minute, closed: true }),
        klineFrame({ symbol: "ethusdt", openTime: t0 + 5 * minute, closed: true }),
        klineFrame({ symbol: "btcusdt", openTime: t0 + 6 * minute, closed: true })
      )
      // SOL has no gap: its candle is not held behind the others' backfill
      const [sol] = yield* take(events, 1)
      expect(summary(sol!)).toEqual(["CandleClosed", "SOLUSDT", 5])
      expect(Date.now() - sentAt).toBeLessThan(800)
      // BTC and ETH are held until their gap is given up on, then flow in time order
      const rest = yield* take(events, 3)
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(900)
      expect(rest.filter((e) => e.payload.symbol === "BTCUSDT").map(summary)).toEqual([
        ["CandleClosed", "BTCUSDT", 5],
        ["CandleClosed", "BTCUSDT", 6]
      ])
      expect(rest.filter((e) => e.payload.symbol === "ETHUSDT").map(summary)).toEqual([["CandleClosed", "ETHUSDT", 5]])
      const reports = Chunk.toReadonlyArray(yield* within(Queue.takeBetween(errors, 2, 2)))
      const from = new Date(t0 + minute).toISOString().replace(".000Z", "Z")
      const to = new Date(t0 + 5 * minute).toISOString().replace(".000Z", "Z")
      expect(reports.map((e) => e.payload.message).sort()).toEqual([
        `binance: gave up on the BTCUSDT 1m candles from ${from} to ${to}`,
        `binance: gave up on the ETHUSDT 1m candles from ${from} to ${to}`
      ])
      expect(reports[0]!.payload.component).toBe("binance")
      const stats = yield* marketData.stats
      expect(stats.gaps).toBe(2)
      const gaps = yield* Metric.value(Metrics.labelled(Metrics.collectorGapsTotal, "source")("binance"))
      expect(gaps.count).toBeGreaterThanOrEqual(2)
      expect(stats.backfilled).toBe(0)
    }))

  it.scopedLive("recovers a gap once REST answers again, holding the live candles meanwhile", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events, marketData } = yield* start(server, { symbols: ["btcusdt"], gapHold: "5 seconds" })
      const conn1 = yield* within(server.nextConnection)
      yield* conn1.send(klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }))
      yield* take(events, 1)
      yield* server.setKlines("BTCUSDT", klineRows(t0, 4))
      yield* server.failRest({ status: 503 }, { status: 503 })
      yield* conn1.drop
      const conn2 = yield* within(server.nextConnection)
      yield* conn2.send(
        klineFrame({ symbol: "btcusdt", openTime: t0 + 4 * minute, closed: true }),
        klineFrame({ symbol: "btcusdt", openTime: t0 + 5 * minute, closed: true })
      )
      const got = yield* take(events, 5)
      expect(got.map((e) => (e.payload.openTime - t0) / minute)).toEqual([1, 2, 3, 4, 5])
      expect(yield* marketData.stats).toMatchObject({ backfilled: 3, gaps: 0 })
    }))

  it.scopedLive("throttles malformed-frame warnings, escapes binary samples and counts other streams as ignored", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events, logs, marketData } = yield* start(server, { symbols: ["btcusdt"] })
      const conn = yield* within(server.nextConnection)
      const escapes = new Uint8Array(300).map((_, i) => i % 4 === 0 ? 0x1b : 0x5b) // ESC [ [ [ ...
      // aggTrade, depth and bookTicker frames (the recording's klines are of symbols not followed: malformed here)
      const others = dataFile("ws_combined_stream_2021-08-14.jsonl").filter((l) => !l.includes("@kline_"))
      yield* conn.send(escapes, ...Array.from({ length: 40 }, (_, i) => `garbage ${i}`), ...others)
      yield* conn.send(klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }))
      yield* take(events, 1)
      const stats = yield* marketData.stats
      expect(stats.malformed).toBe(41)
      expect(stats.ignored).toBe(others.length)
      const ignored = yield* Metric.value(Metrics.labelled(Metrics.collectorIgnoredTotal, "source")("binance"))
      expect(ignored.count).toBeGreaterThanOrEqual(others.length)
      const warnings = warningsOf(logs, "malformed")
      expect(warnings).toHaveLength(1) // the others wait for the next interval
      const sample = String(warnings[0]!.annotations["sample"])
      expect(sample).not.toContain("\x1b")
      expect(sample.startsWith("\\x1b[[[\\x1b")).toBe(true)
      expect(sample.length).toBeLessThanOrEqual(203)
      expect(warnings[0]!.annotations["reason"]).toBe("a binary frame, not JSON")
    }))

  it.scopedLive("redacts credentials of the REST URL in its logs", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const restUrl = `http://key:hunter2@127.0.0.1:${yield* closedPort}` // refused: the error names the URL
      const { events, logs } = yield* start(server, { symbols: ["btcusdt"], restUrl, gapHold: "300 millis" })
      const conn1 = yield* within(server.nextConnection)
      yield* conn1.send(klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }))
      yield* take(events, 1)
      yield* conn1.drop
      yield* within(server.nextConnection)
      yield* eventually(Effect.sync(() => logs.some((l) => l.message.includes("retrying in")) || undefined))
      const text = JSON.stringify(logs)
      expect(text).toContain("http://***@127.0.0.1")
      expect(text).not.toContain("hunter2")
    }))

  it.effect("keeps a URL's credentials out of a configuration error", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(
        BinanceMarketData.layer({ symbols: ["btcusdt"], interval: "1m", wsUrl: "https://user:s3cret@example.com" })
          .pipe(Layer.provide(Layer.mergeAll(MemoryEventBus.layer(), infrastructure)))
      ).pipe(Effect.scoped, Effect.flip)
      expect(error._tag).toBe("BinanceConfigError")
      expect(error.message).toContain("wsUrl=\"https://***@example.com\"")
      expect(error.message).not.toContain("s3cret")
    }))

  it.scopedLive("measures the candle lag against the market's time and speaks under its own name", () =>
    Effect.gen(function*() {
      const server = yield* BinanceTestServer.make
      const { events, logs } = yield* start(server, {
        symbols: ["lagusdt"],
        name: "simulator",
        marketTime: Effect.succeed(t0 + 2 * minute)
      })
      const conn = yield* within(server.nextConnection)
      yield* conn.send(klineFrame({ symbol: "lagusdt", openTime: t0, closed: true }))
      const [event] = yield* take(events, 1)
      expect(event!.source).toBe("simulator")
      const lag = yield* Metric.value(Metrics.labelled(Metrics.candleLagSeconds, "symbol")("LAGUSDT"))
      expect(lag.value).toBeCloseTo(60.001, 3)
      expect(logs.some((l) => l.message.startsWith("simulator: following 1 symbols"))).toBe(true)
      expect(logs.some((l) => l.message.startsWith("binance:"))).toBe(false)
    }))
})
