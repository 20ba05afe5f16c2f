import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { readFileSync } from "node:fs"
import {
  CombinedKlineMessage,
  KlineEvent,
  klineStreamName,
  klineToCandle,
  RestKline,
  RestKlines,
  restKlineToCandle
} from "../../src/domain/Binance.js"
import { Candle } from "../../src/domain/Candle.js"

const read = (name: string) => readFileSync(new URL(`../fixtures/binance/${name}`, import.meta.url), "utf8")
const lines = (name: string) => read(name).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as unknown)

const decodeCombined = Schema.decodeUnknownEither(CombinedKlineMessage)
const decodeCombinedSync = Schema.decodeUnknownSync(CombinedKlineMessage)
const isCandle = Schema.is(Candle)

describe("Binance schemas", () => {
  it("decodes every recorded combined kline frame into a Candle", () => {
    const frames = lines("ws_combined_kline_1m_2021-08-14.jsonl")
    expect(frames).toHaveLength(17)
    const messages = frames.map((f) => decodeCombinedSync(f))
    const candles = messages.map((m) => klineToCandle(m.data.k))
    for (const [i, m] of messages.entries()) {
      expect(m.stream).toBe(klineStreamName(m.data.k.s, m.data.k.i))
      expect(isCandle(candles[i])).toBe(true)
    }
    expect(new Set(candles.map((c) => c.symbol))).toEqual(new Set(["FTMUSDT", "SXPBTC", "XMRBTC"]))
    const closing = candles.filter((c) => c.isClosed)
    expect(closing.map((c) => c.symbol)).toEqual(["FTMUSDT", "SXPBTC"])
    // the first frame, value by value
    expect(candles[0]).toEqual({
      symbol: "FTMUSDT",
      interval: "1m",
      openTime: 1628952360000,
      closeTime: 1628952419999,
      open: 0.34064,
      high: 0.3407,
      low: 0.33934,
      close: 0.33993,
      volume: 208601,
      quoteVolume: 70846.769689,
      trades: 78,
      isClosed: false
    })
    // each closing frame is followed by the first frame of the symbol's next candle
    for (const c of closing) {
      const next = candles.slice(candles.indexOf(c) + 1).find((n) => n.symbol === c.symbol)
      if (next !== undefined) expect(next.openTime).toBe(c.closeTime + 1)
      expect(c.closeTime - c.openTime).toBe(59_999)
    }
  })

  it("decodes the raw non-combined kline frame with the event schema, and the combined schema rejects it", () => {
    const raw = lines("ws_single_samples.jsonl")[0]
    const event = Schema.decodeUnknownSync(KlineEvent)(raw)
    expect(klineToCandle(event.k)).toEqual({
      symbol: "BTCUSDT",
      interval: "1m",
      openTime: 1718667720000,
      closeTime: 1718667779999,
      open: 66477.91,
      high: 66477.91,
      low: 66468,
      close: 66472.2,
      volume: 10.75371,
      quoteVolume: 714783.4621538,
      trades: 246,
      isClosed: false
    })
    // the layer reads `/stream?streams=...`, which only sends combined frames: a raw one is malformed there
    expect(Either.isLeft(decodeCombined(raw))).toBe(true)
  })

  it("rejects the non-kline frames of the recorded combined stream", () => {
    const frames = lines("ws_combined_stream_2021-08-14.jsonl") as ReadonlyArray<{ stream: string }>
    expect(frames).toHaveLength(1003)
    const accepted = frames.filter((f) => Either.isRight(decodeCombined(f)))
    expect(accepted).toHaveLength(17)
    expect(accepted.every((f) => f.stream.endsWith("@kline_1m"))).toBe(true)
    for (const kind of ["@bookTicker", "@depth@100ms", "@aggTrade"]) {
      const sample = frames.filter((f) => f.stream.endsWith(kind))
      expect(sample.length).toBeGreaterThan(0)
      expect(sample.every((f) => Either.isLeft(decodeCombined(f)))).toBe(true)
    }
    const trade = lines("ws_single_samples.jsonl")[1]
    expect(Either.isLeft(decodeCombined(trade))).toBe(true)
  })

  it("decodes the recorded REST klines response", () => {
    const rows = Schema.decodeUnknownSync(RestKlines)(JSON.parse(read("http_spot_market_klines.json")))
    expect(rows).toHaveLength(10)
    const candles = rows.map((r, i) => restKlineToCandle(r, "btcusdt", "1m", i < rows.length - 1))
    expect(candles[0]).toEqual({
      symbol: "BTCUSDT",
      interval: "1m",
      openTime: 1634943780000,
      closeTime: 1634943839999,
      open: 60685.22,
      high: 60729.84,
      low: 60670.9,
      close: 60719.27,
      volume: 21.63272,
      quoteVolume: 1313200.0134041,
      trades: 617,
      isClosed: true
    })
    for (let i = 1; i < candles.length; i++) expect(candles[i]!.openTime - candles[i - 1]!.openTime).toBe(60_000)
    const last = candles[candles.length - 1]!
    expect(last.trades).toBe(7)
    expect(last.open).toBe(last.close)
    expect(candles.every(isCandle)).toBe(true)
  })

  it("rejects malformed values", () => {
    const [frame] = lines("ws_combined_kline_1m_2021-08-14.jsonl") as ReadonlyArray<
      { data: { k: Record<string, unknown> } }
    >
    const withK = (patch: Record<string, unknown>) => ({ ...frame, data: { ...frame!.data, k: { ...frame!.data.k, ...patch } } })
    expect(Either.isLeft(decodeCombined(withK({ c: "abc" })))).toBe(true)
    expect(Either.isLeft(decodeCombined(withK({ c: 0.5 })))).toBe(true) // a number, not Binance's string
    expect(Either.isLeft(decodeCombined(withK({ x: "true" })))).toBe(true)
    expect(Either.isLeft(decodeCombined(withK({ t: undefined })))).toBe(true)
    const decodeRow = Schema.decodeUnknownEither(RestKline)
    expect(Either.isLeft(decodeRow([1634943780000, "1", "2", "3", "4", "5"]))).toBe(true)
    expect(Either.isLeft(decodeRow([1634943780000, 1, 2, 3, 4, 5, 1634943839999, "6", 7, "8", "9", "0"]))).toBe(true)
  })
})
