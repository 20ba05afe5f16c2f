import { mkdtempSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import type { Signal, SignalDirection } from "../../src/domain/Signal.js"
import * as SqliteJournal from "../../src/layers/journal/SqliteJournal.js"
import type { BacktestReport } from "../../src/layers/engine/Backtest.js"
import type { OrderView } from "../../src/programs/orders.js"
import { compareSignals, formatComparison } from "../../src/programs/Replay.js"
import { Journal } from "../../src/services/Journal.js"
import { type Finished, runCli } from "../support/cli.js"
import { created } from "../support/journal.js"

const Sqlite = createRequire(import.meta.url)("better-sqlite3") as new(file: string, options?: { readonly readonly?: boolean }) => {
  prepare: (sql: string) => { all: (...params: ReadonlyArray<unknown>) => Array<Record<string, unknown>> }
  close: () => void
}

/** Reads the journal with SQLite itself, not through the code under test. */
const query = (filename: string, sql: string, ...params: ReadonlyArray<unknown>) => {
  const db = new Sqlite(filename, { readonly: true })
  try {
    return db.prepare(sql).all(...params)
  } finally {
    db.close()
  }
}

const count = (filename: string, where: string, ...params: ReadonlyArray<unknown>) =>
  Number(query(filename, `SELECT count(*) AS n FROM events WHERE ${where}`, ...params)[0]!.n)

/** The state of the file a reader must leave as it is. */
const fingerprint = (filename: string) => ({
  rows: query(filename, "SELECT count(*) AS n, max(seq) AS last, sum(done) AS done FROM events")[0],
  schema: query(filename, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
})

// the run's strategy: short SMAs, so signals come within seconds; the replay uses the same
const strategy = ["--fast", "3", "--slow", "8"]

describe("trading-bus run --record, then backtest and replay of its event log", () => {
  const dir = mkdtempSync(join(tmpdir(), "trading-bus-replay-"))
  const journal = join(dir, "rec.db")
  let run: Finished
  let summary: {
    readonly candles: Record<string, number>
    readonly signals: number
    readonly orders: number
    readonly queues: { readonly data: { readonly dropped: number } }
  }

  beforeAll(async () => {
    // 50 candles/s per symbol: the data queue never fills, so the live strategy sees every recorded candle
    run = await runCli([
      "run",
      "--record",
      "--journal",
      journal,
      "--duration",
      "3s",
      "--speed",
      "50",
      ...strategy,
      "--status-interval",
      "1s",
      "--summary-json",
      join(dir, "summary.json")
    ])
    summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"))
  }, 60_000)

  it("records every event: candles, signals and orders, all done; nothing dropped at this pace", () => {
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`recording every event in ${journal}`)
    expect(summary.queues.data.dropped).toBe(0)
    for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
      expect(summary.candles[symbol]).toBeGreaterThan(50)
      expect(count(journal, "type = 'CandleClosed' AND json_extract(payload, '$.symbol') = ?", symbol)).toBe(summary.candles[symbol])
    }
    expect(summary.signals).toBeGreaterThan(0)
    expect(count(journal, "type = 'SignalGenerated' AND queue = 'signal'")).toBe(summary.signals)
    expect(count(journal, "type = 'OrderCreated' AND queue = 'order'")).toBe(summary.orders)
    // the data queue carries the candles and the positions' marks to market (never an order event)
    expect(count(journal, "queue = 'data' AND type NOT IN ('CandleClosed', 'PositionUpdated')")).toBe(0)
    expect(count(journal, "queue = 'data' AND type = 'CandleClosed'")).toBe(count(journal, "type = 'CandleClosed'"))
    // the next start recovers nothing: a recorded candle is never traded again
    expect(count(journal, "done = 0")).toBe(0)
  })

  it("backtest --candles reads the recorded candles of the chosen symbol", async () => {
    const out = join(dir, "backtest.json")
    const { code, stderr } = await runCli(["backtest", "--candles", journal, "--symbol", "btcusdt", ...strategy, "--report-json", out])
    expect(code, stderr).toBe(0)
    const report = JSON.parse(readFileSync(out, "utf8")) as BacktestReport
    expect([report.symbol, report.interval, report.malformed, report.dropped]).toEqual(["BTCUSDT", "1m", 0, 0])
    expect(report.candles).toBe(count(journal, "type = 'CandleClosed' AND json_extract(payload, '$.symbol') = 'BTCUSDT'"))
    expect(report.signals).toBe(count(journal, "type = 'SignalGenerated' AND json_extract(payload, '$.symbol') = 'BTCUSDT'"))
  }, 60_000)

  it("replay with the run's strategy flags gives every recorded signal again, and leaves the journal as it was", async () => {
    const before = fingerprint(journal)
    const recorded = count(journal, "type = 'SignalGenerated' AND json_extract(payload, '$.symbol') = 'ETHUSDT'")
    expect(recorded).toBeGreaterThan(0)
    const { code, stderr, stdout } = await runCli(["replay", "--journal", journal, "--symbol", "ethusdt", ...strategy])
    expect(code, stderr).toBe(0)
    expect(stdout).toContain("backtest ETHUSDT 1m")
    expect(stdout).toContain(`replay: ${recorded} recorded signals, ${recorded} replayed, ${recorded} identical`)
    expect(stdout).toContain("every recorded signal was replayed identically")
    expect(fingerprint(journal)).toEqual(before)
  }, 60_000)

  it("several symbols and no --symbol: backtest and replay exit 2 naming both", async () => {
    for (const args of [["backtest", "--candles", journal], ["replay", "--journal", journal]]) {
      const { code, stderr } = await runCli(args)
      expect(code).toBe(2)
      expect(stderr).toContain("--symbol")
      expect(stderr).toContain("BTCUSDT")
      expect(stderr).toContain("ETHUSDT")
    }
  }, 60_000)

  it("orders --journal lists only the orders of a recorded file", async () => {
    const { code, stdout } = await runCli(["orders", "--journal", journal, "--json"])
    expect(code).toBe(0)
    const orders = JSON.parse(stdout) as ReadonlyArray<OrderView>
    expect(orders.length).toBe(summary.orders)
    expect(orders.every((o) => o.status === "FILLED" || o.status === "REJECTED")).toBe(true)
  }, 60_000)

  it("TRADING_BUS_RECORD=true records without the flag; a journal without --record has no candles to backtest", async () => {
    const [recorded, orders] = [join(dir, "env.db"), join(dir, "orders.db")]
    await Effect.runPromise(
      Effect.flatMap(Journal, (j) => j.append(created("a"), "order")).pipe(Effect.provide(SqliteJournal.layer({ filename: orders })))
    )
    const [run, backtest] = await Promise.all([
      runCli(["run", "--journal", recorded, "--duration", "1s", "--speed", "20", "--strategy", "none"], { TRADING_BUS_RECORD: "true" }),
      runCli(["backtest", "--candles", orders])
    ])
    expect(run.code).toBe(0)
    expect(count(recorded, "type = 'CandleClosed'")).toBeGreaterThan(0)
    expect(backtest.code).toBe(2)
    expect(backtest.stderr).toContain("--candles")
    expect(backtest.stderr).toContain("trading-bus run --record")
  }, 60_000)
})

describe("comparing recorded and replayed signals", () => {
  const signal = (timestamp: number, direction: SignalDirection): Signal => ({
    symbol: "BTCUSDT",
    direction,
    price: 1,
    strategy: "sma",
    reason: "SMA(3) 1 crossed above SMA(8) 0.9",
    timestamp
  })

  it("matches signals by candle and direction, and keeps the first divergence", () => {
    const recorded = [signal(1, "LONG"), signal(2, "SHORT"), signal(4, "LONG"), signal(6, "SHORT")]
    expect(compareSignals(recorded, recorded)).toEqual({ recorded: 4, replayed: 4, identical: 4 })
    // a candle the live run did not see: its signal is missing, the next one comes a candle later
    const replayed = [signal(1, "LONG"), signal(3, "SHORT"), signal(4, "LONG"), signal(6, "LONG")]
    expect(compareSignals(recorded, replayed)).toEqual({
      recorded: 4,
      replayed: 4,
      identical: 2,
      divergence: { time: 2, recorded: "SHORT" }
    })
    expect(compareSignals([], [signal(5, "CLOSE")]).divergence).toEqual({ time: 5, replayed: "CLOSE" })
  })

  it("says why a divergence is expected", () => {
    const text = formatComparison(
      { recorded: 2, replayed: 1, identical: 1, divergence: { time: 59_999, recorded: "LONG", replayed: "SHORT" } },
      { recordedWith: "sma SMA(3)/SMA(8)", replayedWith: "--strategy sma --fast 5 --slow 13" }
    )
    expect(text).toContain("replay: 2 recorded signals, 1 replayed, 1 identical")
    expect(text).toContain("first divergence at the candle closing 1970-01-01T00:00:59.999Z: recorded LONG, replayed SHORT")
    expect(text).toContain("recorded: sma SMA(3)/SMA(8); replayed: --strategy sma --fast 5 --slow 13")
    expect(text).toContain("dropped candles")
  })
})
