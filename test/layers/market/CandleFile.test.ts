import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import * as CandleFile from "../../../src/layers/market/CandleFile.js"
import { captureLogs } from "../../support/fixtures.js"

const dataPath = (name: string) => fileURLToPath(new URL(`../../fixtures/binance/${name}`, import.meta.url))
const read = (options: CandleFile.CandleFileOptions) => CandleFile.read(options).pipe(Effect.provide(NodeFileSystem.layer))

const csvRows = [
  "1637971200000,0.00002853,0.00002854,0.00002851,0.00002854,36304.20000000,1637971259999,1.03547608,79,19523.00000000,0.55694227,0",
  "1637971260000,0.00002854,0.00002860,0.00002854,0.00002859,89196.60000000,1637971319999,2.54751330,98,59004.20000000,1.68545512,0",
  "1637971320000,0.00002859,0.00002860,0.00002857,0.00002859,26547.30000000,1637971379999,0.75867802,50,5425.90000000,0.15506127,0"
]

describe("CandleFile", () => {
  it.live("reads Binance's 12-column kline CSV: 1440 ADABTC 1m candles, symbol and interval from the file name", () =>
    Effect.gen(function*() {
      const file = yield* read({ path: dataPath("ADABTC-1m-2021-11-27.csv") })
      expect([file.format, file.symbol, file.interval, file.candles.length, file.malformed]).toEqual(["csv", "ADABTC", "1m", 1440, []])
      expect(file.candles[0]).toEqual({
        symbol: "ADABTC",
        interval: "1m",
        openTime: 1637971200000,
        closeTime: 1637971259999,
        open: 0.00002853,
        high: 0.00002854,
        low: 0.00002851,
        close: 0.00002854,
        volume: 36304.2,
        quoteVolume: 1.03547608,
        trades: 79,
        isClosed: true
      })
      expect(file.candles[1439]).toEqual({
        symbol: "ADABTC",
        interval: "1m",
        openTime: 1638057540000,
        closeTime: 1638057599999,
        open: 0.00002818,
        high: 0.00002821,
        low: 0.00002817,
        close: 0.00002821,
        volume: 7753.4,
        quoteVolume: 0.21852464,
        trades: 54,
        isClosed: true
      })
      for (const c of file.candles) expect(c.closeTime).toBe(c.openTime + 59_999)
    }))

  it.live("reads the [time,o,h,l,c,v] JSON layout: close time from the next open, quote volume close*volume, trades 0", () =>
    Effect.gen(function*() {
      const file = yield* read({ path: dataPath("XRP_ETH-1m.json") })
      expect([file.format, file.symbol, file.interval, file.candles.length, file.malformed.length]).toEqual(["json", "XRPETH", "1m", 3560, 0])
      expect(file.candles[0]).toEqual({
        symbol: "XRPETH",
        interval: "1m",
        openTime: 1570752000000,
        closeTime: 1570752059999,
        open: 0.00141342,
        high: 0.00141557,
        low: 0.00141266,
        close: 0.00141418,
        volume: 1482,
        quoteVolume: 0.00141418 * 1482,
        trades: 0,
        isClosed: true
      })
      expect(file.candles[3559]).toEqual({
        symbol: "XRPETH",
        interval: "1m",
        openTime: 1570965540000,
        closeTime: 1570965599999,
        open: 0.00152814,
        high: 0.00152817,
        low: 0.00152787,
        close: 0.00152787,
        volume: 785,
        quoteVolume: 0.00152787 * 785,
        trades: 0,
        isClosed: true
      })
    }))

  it.live("--symbol and --interval override the file name", () =>
    Effect.gen(function*() {
      const file = yield* read({ path: dataPath("XRP_ETH-1m.json"), symbol: "xrpeth", interval: "1m" })
      expect([file.symbol, file.candles[5]!.symbol]).toEqual(["XRPETH", "XRPETH"])
    }))

  it.effect("accepts a header line; without a name, the interval comes from the rows' spacing", () =>
    Effect.gen(function*() {
      const text = ["open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore", ...csvRows].join("\n")
      const file = yield* CandleFile.parse(text, { path: "klines.csv", symbol: "ADABTC" })
      expect([file.interval, file.candles.length, file.malformed.length, file.candles[2]!.trades]).toEqual(["1m", 3, 0, 50])
    }))

  it.effect("a malformed row is logged with its line number, counted and skipped", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const text = [
        csvRows[0],
        "1637971230000,0.1,oops,0.1,0.1,1,1637971289999,1,1,0,0,0",
        csvRows[1],
        "1637971260000,1,2",
        "",
        csvRows[2],
        csvRows[0]
      ].join("\n") + "\n"
      const file = yield* CandleFile.parse(text, { path: "ADABTC-1m-x.csv" }).pipe(Effect.provide(logs.layer))
      expect(file.candles.map((c) => c.openTime)).toEqual([1637971200000, 1637971260000, 1637971320000])
      expect(file.malformed.map((m) => m.line)).toEqual([2, 4, 7])
      const warnings = logs.entries.filter((e) => e.level === "WARN").map((e) => e.message)
      expect(warnings).toHaveLength(3)
      expect(warnings[0]).toContain("line 2")
      expect(warnings[0]).toContain("high")
      expect(warnings[1]).toContain("line 4")
      expect(warnings[2]).toContain("line 7")
    }))

  it.effect("strict: the first malformed row stops the read with a typed error naming its line", () =>
    Effect.gen(function*() {
      const text = [csvRows[0], csvRows[1], "not,a,row", csvRows[2]].join("\n")
      const error = yield* Effect.flip(CandleFile.parse(text, { path: "ADABTC-1m-x.csv", strict: true }))
      expect(error).toBeInstanceOf(CandleFile.CandleFileError)
      expect([error.line, error.option]).toEqual([3, "candles"])
      expect(error.message).toContain("line 3")
    }))

  it.effect("JSON rows are numbered from 1", () =>
    Effect.gen(function*() {
      const text = "[[60000,1,1,1,1,1],[120000,1,2,1,1,1],[180000,1,1,1,1,\"x\"],[240000,2,2,2,2,0]]"
      const file = yield* CandleFile.parse(text, { path: "ABCUSDT-1m.json" })
      expect(file.malformed).toEqual([{ line: 3, unit: "row", reason: expect.stringContaining("volume") }])
      expect(file.candles.map((c) => c.closeTime)).toEqual([119_999, 179_999, 299_999])
      const error = yield* Effect.flip(CandleFile.parse(text, { path: "ABCUSDT-1m.json", strict: true }))
      expect(error.message).toContain("row 3")
    }))

  it.effect("without a symbol in the name or the options, the error names --symbol's setting", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(CandleFile.parse(csvRows.join("\n"), { path: "data.csv" }))
      expect(error.option).toBe("symbol")
    }))

  it.live("a missing file fails naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(read({ path: "/nonexistent/ADABTC-1m.csv" }))
      expect([error._tag, error.option]).toEqual(["CandleFileError", "candles"])
      expect(error.message).toContain("/nonexistent/ADABTC-1m.csv")
    }))
})
