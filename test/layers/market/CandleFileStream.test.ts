import type { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Logger, LogLevel, type Scope, Stream } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Candle } from "../../../src/domain/Candle.js"
import * as CandleFile from "../../../src/layers/market/CandleFile.js"
import * as CandleFileStream from "../../../src/layers/market/CandleFileStream.js"

const adabtc = fileURLToPath(new URL("../../fixtures/binance/ADABTC-1m-2021-11-27.csv", import.meta.url))
const xrpEth = fileURLToPath(new URL("../../fixtures/binance/XRP_ETH-1m.json", import.meta.url))

const opened = <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer), Logger.withMinimumLogLevel(LogLevel.None))

/** Both ways of reading an opened series: the Stream, and the arrays handed to a callback (with their sizes). */
const viaStream = (options: CandleFile.CandleFileOptions) =>
  opened(Effect.gen(function*() {
    const series = yield* CandleFileStream.open(options)
    const candles = Chunk.toReadonlyArray(yield* Stream.runCollect(series.candles))
    return { candles, malformed: [...series.malformed] }
  }))
const viaBatches = (options: CandleFile.CandleFileOptions) =>
  opened(Effect.gen(function*() {
    const series = yield* CandleFileStream.open(options)
    const candles: Array<Candle> = []
    const sizes: Array<number> = []
    yield* series.forEachBatch((batch) =>
      Effect.sync(() => {
        sizes.push(batch.length)
        for (const c of batch) candles.push(c)
      })
    )
    return { candles, sizes, malformed: [...series.malformed] }
  }))

const tempFile = (name: string, text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), "candle-stream-")), name)
  writeFileSync(path, text)
  return path
}

describe("CandleFileStream", () => {
  it.live("forEachBatch hands over the candles the Stream gives, a read at a time, in file order", () =>
    Effect.gen(function*() {
      // 183 KB: three reads of 64 KiB, rows cut across their edges
      const stream = yield* viaStream({ path: adabtc })
      const batches = yield* viaBatches({ path: adabtc })
      const whole = yield* CandleFile.read({ path: adabtc }).pipe(Effect.provide(NodeFileSystem.layer))
      expect(stream.candles).toHaveLength(1440)
      expect(batches.candles).toEqual(stream.candles)
      expect(batches.candles).toEqual(whole.candles)
      expect(batches.sizes.length).toBeGreaterThanOrEqual(3)
      expect(batches.sizes.reduce((a, b) => a + b, 0)).toBe(1440)
    }))

  it.live("a CSV's arrays are the reader's: each is emptied once the callback is done with it", () =>
    opened(Effect.gen(function*() {
      const series = yield* CandleFileStream.open({ path: adabtc })
      const handed: Array<ReadonlyArray<Candle>> = []
      const lengths: Array<number> = []
      yield* series.forEachBatch((batch) =>
        Effect.sync(() => {
          handed.push(batch)
          lengths.push(batch.length)
        })
      )
      expect(lengths.reduce((a, b) => a + b, 0)).toBe(1440)
      expect(handed.map((b) => b.length)).toEqual(handed.map(() => 0))
    })))

  it.live("a JSON file is read whole and handed over as one array", () =>
    Effect.gen(function*() {
      const stream = yield* viaStream({ path: xrpEth, symbol: "XRPETH" })
      const batches = yield* viaBatches({ path: xrpEth, symbol: "XRPETH" })
      expect(batches.sizes).toEqual([stream.candles.length])
      expect(batches.candles).toEqual(stream.candles)
    }))

  it.live("malformed rows are skipped and listed alike; the last row needs no newline", () =>
    Effect.gen(function*() {
      const lines = readFileSync(adabtc, "utf8").trimEnd().split("\n").slice(0, 50)
      lines[3] = "1637971380000,0.00002859,garbage"
      lines[7] = lines[6]! // not after the previous row's open time
      const path = tempFile("ADABTC-1m-bad.csv", lines.join("\n"))
      const stream = yield* viaStream({ path })
      const batches = yield* viaBatches({ path })
      expect(batches.candles).toHaveLength(48)
      expect(batches.candles.at(-1)!.openTime).toBe(Number(lines[49]!.split(",")[0]))
      expect(batches.malformed.map((m) => m.line)).toEqual([4, 8])
      expect(batches.malformed).toEqual(stream.malformed)
    }))

  it.live("strict: the first malformed row fails forEachBatch with its line; a file of no candles fails at its end", () =>
    Effect.gen(function*() {
      const lines = readFileSync(adabtc, "utf8").split("\n").slice(0, 10)
      lines[5] = "1637971500000,x"
      const bad = yield* Effect.flip(viaBatches({ path: tempFile("ADABTC-1m-strict.csv", lines.join("\n")), strict: true }))
      expect([bad._tag, bad.line]).toEqual(["CandleFileError", 6])
      const empty = tempFile("ADABTC-1m-empty.csv", "open_time,open,high,low,close,volume\n")
      for (const read of [viaBatches({ path: empty }), viaStream({ path: empty })]) {
        const error = yield* Effect.flip(read)
        expect(error.message).toContain("no candles in the file")
      }
    }))
})
