import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BusEvent, makeEventAt } from "../../../src/domain/BusEvent.js"
import * as CandleFile from "../../../src/layers/market/CandleFile.js"
import * as JournalCandles from "../../../src/layers/market/JournalCandles.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { Journal } from "../../../src/services/Journal.js"
import { candleAt } from "../../support/fixtures.js"
import { created } from "../../support/journal.js"

const tmp = () => mkdtempSync(join(tmpdir(), "trading-bus-journal-candles-"))

const read = (options: CandleFile.CandleFileOptions) => CandleFile.read(options).pipe(Effect.provide(NodeFileSystem.layer))

const closed = (i: number, symbol = "BTCUSDT") =>
  makeEventAt("CandleClosed", candleAt(i, 100 + i, symbol), i * 60_000 + 59_999, { source: "binance" })

/** A journal file holding `events` as `--record` appends them (done; orders on the order queue). */
const writeJournal = (filename: string, events: ReadonlyArray<BusEvent>) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    for (const event of events) {
      const order = event.type.startsWith("Order")
      yield* journal.append(event, order ? "order" : "data", { done: !order })
    }
  }).pipe(Effect.provide(SqliteJournal.layer({ filename })))

describe("candles from a recorded journal", () => {
  it("tells a SQLite file by its header", () => {
    expect(JournalCandles.isSqliteHeader(new TextEncoder().encode("SQLite format 3\0 and the rest"))).toBe(true)
    expect(JournalCandles.isSqliteHeader(new TextEncoder().encode("SQLite format 3"))).toBe(false)
    expect(JournalCandles.isSqliteHeader(new TextEncoder().encode("open_time,open,high,low"))).toBe(false)
  })

  it.live("a journal, whatever its name, gives its CandleClosed events of the chosen symbol, in append order", () =>
    Effect.gen(function*() {
      // named like a CSV: the header decides
      const path = join(tmp(), "BTCUSDT-1m-recorded.csv")
      yield* writeJournal(path, [closed(0), closed(0, "ETHUSDT"), created("a"), closed(1), closed(1, "ETHUSDT"), closed(2)])
      const btc = yield* read({ path, symbol: "btcusdt" })
      expect([btc.format, btc.symbol, btc.interval, btc.malformed]).toEqual(["journal", "BTCUSDT", "1m", []])
      expect(btc.candles).toEqual([candleAt(0, 100), candleAt(1, 101), candleAt(2, 102)])
      const eth = yield* read({ path, symbol: "ETHUSDT", interval: "1m" })
      expect(eth.candles.map((c) => c.openTime)).toEqual([0, 60_000])
    }))

  it.live("several symbols and none chosen: a CandleFileError on the symbol listing them", () =>
    Effect.gen(function*() {
      const path = join(tmp(), "rec.db")
      yield* writeJournal(path, [closed(0), closed(0, "ETHUSDT"), closed(1)])
      const error = yield* Effect.flip(read({ path }))
      expect([error._tag, error.option]).toEqual(["CandleFileError", "symbol"])
      expect(error.message).toContain("BTCUSDT 1m (2 candles), ETHUSDT 1m (1 candles)")
      expect(error.message).toContain("pass --symbol")
      const unknown = yield* Effect.flip(read({ path, symbol: "xrpusdt" }))
      expect([unknown.option, unknown.message]).toEqual(["symbol", expect.stringContaining("no candles of XRPUSDT")])
      const interval = yield* Effect.flip(read({ path, symbol: "btcusdt", interval: "5m" }))
      expect([interval.option, interval.message]).toEqual(["interval", expect.stringContaining("no 5m candles of BTCUSDT")])
    }))

  it.live("a journal without recorded candles says to record with trading-bus run --record", () =>
    Effect.gen(function*() {
      const path = join(tmp(), "orders.db")
      yield* writeJournal(path, [created("a")])
      const error = yield* Effect.flip(read({ path }))
      expect(error.option).toBe("candles")
      expect(error.message).toContain("trading-bus run --record")
    }))

  it.live("candles not after the one before (two runs in one file) are skipped with their row, or fail when strict", () =>
    Effect.gen(function*() {
      const path = join(tmp(), "twice.db")
      yield* writeJournal(path, [closed(0), closed(1), closed(2), closed(0), closed(1), closed(3)])
      const content = yield* read({ path })
      expect(content.candles.map((c) => c.openTime)).toEqual([0, 60_000, 120_000, 180_000])
      expect(content.malformed.map((m) => [m.line, m.unit])).toEqual([[4, "row"], [5, "row"]])
      const error = yield* Effect.flip(read({ path, strict: true }))
      expect([error.option, error.line, error.unit]).toEqual(["candles", 4, "row"])
    }))

  it.live("a journal in use by a run is refused with the journal's reason (after its 2 s busy timeout)", () =>
    Effect.gen(function*() {
      const path = join(tmp(), "busy.db")
      yield* writeJournal(path, [closed(0)])
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(SqliteJournal.layer({ filename: path }), scope)
      const error = yield* Effect.flip(read({ path }))
      expect([error.option, error.message]).toEqual(["candles", expect.stringContaining("locked by another process")])
      yield* Scope.close(scope, Exit.void)
      expect((yield* read({ path })).candles).toHaveLength(1)
    }))
})
