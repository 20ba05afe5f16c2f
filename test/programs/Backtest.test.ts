import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Layer, Logger, LogLevel, Stream } from "effect"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { BusEvent } from "../../src/domain/BusEvent.js"
import * as Backtest from "../../src/layers/engine/Backtest.js"
import * as CandleFile from "../../src/layers/market/CandleFile.js"
import * as SmaCrossoverStrategy from "../../src/layers/trading/SmaCrossoverStrategy.js"
import { EventBus } from "../../src/services/EventBus.js"
import { Portfolio } from "../../src/services/Portfolio.js"
import { chromiumSkipReason, looksBlank, screenshotReport } from "../support/chromium.js"
import { runCli } from "../support/cli.js"
import { expectedSmaSignals } from "../support/fixtures.js"

const adabtc = fileURLToPath(new URL("../fixtures/binance/ADABTC-1m-2021-11-27.csv", import.meta.url))
const xrpeth = fileURLToPath(new URL("../fixtures/binance/XRP_ETH-1m.json", import.meta.url))

const recorder = () => {
  const events: Array<BusEvent> = []
  const layer = Layer.scopedDiscard(Effect.gen(function*() {
    const bus = yield* EventBus
    for (const type of ["CandleClosed", "SignalGenerated", "OrderCreated", "OrderFilled", "OrderRejected"] as const) {
      yield* bus.subscribe(type, (e) => Effect.sync(() => events.push(e)), { name: `recorder:${type}` })
    }
  }))
  const of = <T extends BusEvent["type"]>(type: T) =>
    events.filter((e): e is Extract<BusEvent, { type: T }> => e.type === type)
  return { layer, of, all: events }
}

/** The equity curve, read independently after each candle (after the engine's mark-to-market). */
const equityCurve = () => {
  const curve: Array<number> = []
  const layer = Layer.scopedDiscard(Effect.gen(function*() {
    const bus = yield* EventBus
    const portfolio = yield* Portfolio
    yield* bus.subscribe("CandleClosed", () =>
      Effect.map(portfolio.pnl, (p) => {
        curve.push(BigDecimal.unsafeToNumber(BigDecimal.sum(p.realized, p.unrealized)))
      }), { name: "test-equity" })
  }))
  return { layer, curve }
}

const quiet = <A, E>(effect: Effect.Effect<A, E>) => effect.pipe(Logger.withMinimumLogLevel(LogLevel.None))

const sma = (fast: number, slow: number) => Layer.orDie(SmaCrossoverStrategy.layer({ fast, slow }))

// the independent recomputation below trades both ways, so shorts are allowed
const run = (options: Partial<Backtest.BacktestOptions> = {}, plugins?: Layer.Layer<never, never, EventBus | Portfolio>) =>
  quiet(Backtest.run({ candles: adabtc, strategy: sma(9, 21), allowShort: true, ...options, ...(plugins ? { plugins } : {}) }))

/**
 * The SMA crossover's trades recomputed from the raw candles alone, in plain numbers: one order per signal
 * (LONG buys `quoteAmount / close`, plus the short it reverses; SHORT the mirror; CLOSE flattens), filled at
 * the signal candle's close (`close`) or the next candle's open (`next-open`; none after the last candle),
 * moved by the slippage, the fee taken from realized P&L, average-cost accounting. A round trip runs from flat
 * back to flat (a flip closes one and opens the next); a win has P&L > 0. Equity after each candle: capital +
 * realized + position x (close - average entry). The statistics follow docs/BACKTESTS.md, written out again.
 */
const independentTrades = (
  candles: ReadonlyArray<{ readonly open: number; readonly close: number }>,
  p: {
    readonly fast: number
    readonly slow: number
    readonly quoteAmount: number
    readonly feeBps: number
    readonly slippageBps: number
    readonly fill: "next-open" | "close"
    readonly capital: number
    readonly periodsPerYear: number
  }
) => {
  const closes = candles.map((c) => c.close)
  let quantity = 0
  let average = 0
  let realized = 0
  let tripStart = 0
  let fees = 0
  const trips: Array<number> = []
  const result = { fills: 0, unfilled: 0, roundTrips: 0, wins: 0, realized: 0, unrealized: 0 }
  // what each candle's close decides, executed at that close or at the next candle's open
  const decided = new Map(expectedSmaSignals(closes, p.fast, p.slow).map((s) => [s.index, s.direction]))
  const execute = (direction: string, sizedAt: number, at: number) => {
    const size = Math.floor((p.quoteAmount / sizedAt) * 1e6 + 1e-7) / 1e6
    const target = direction === "CLOSE" ? 0 : direction === "LONG" ? (quantity < 0 ? 0 : quantity) + size : (quantity > 0 ? 0 : quantity) - size
    const delta = target - quantity
    if (Math.abs(delta) < 1e-12) return
    const price = at * (delta > 0 ? 1 + p.slippageBps / 1e4 : 1 - p.slippageBps / 1e4)
    const before = quantity
    const realizedBefore = realized
    if (before === 0 || Math.sign(before) === Math.sign(delta)) {
      average = (Math.abs(before) * average + Math.abs(delta) * price) / (Math.abs(before) + Math.abs(delta))
    } else {
      const closing = Math.min(Math.abs(delta), Math.abs(before))
      realized += closing * (price - average) * Math.sign(before)
      if (Math.abs(delta) > Math.abs(before)) average = price
    }
    const fee = Math.abs(delta) * price * (p.feeBps / 1e4)
    realized -= fee
    fees += fee
    quantity = Math.abs(target) < 1e-12 ? 0 : target
    result.fills++
    if (before !== 0 && Math.sign(quantity) !== Math.sign(before)) {
      trips.push(realized - tripStart)
    }
    if (quantity !== 0 && Math.sign(quantity) !== Math.sign(before)) tripStart = before === 0 ? realizedBefore : realized
  }
  const equity: Array<number> = []
  const held: Array<boolean> = []
  let pending: { direction: string; sizedAt: number } | undefined
  candles.forEach((c, i) => {
    if (pending !== undefined) execute(pending.direction, pending.sizedAt, c.open)
    pending = undefined
    const direction = decided.get(i)
    if (direction !== undefined) {
      if (p.fill === "close") execute(direction, c.close, c.close)
      else pending = { direction, sizedAt: c.close }
    }
    equity.push(p.capital + realized + quantity * (c.close - average))
    held.push(quantity !== 0)
  })
  if (pending !== undefined) result.unfilled++
  result.roundTrips = trips.length
  result.wins = trips.filter((t) => t > 0).length
  result.realized = realized
  result.unrealized = quantity * (closes[closes.length - 1]! - average)
  // the statistics, from their definitions
  const returns = equity.map((e, i) => e / (i === 0 ? p.capital : equity[i - 1]!) - 1)
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length
  const sd = Math.sqrt(returns.reduce((a, r) => a + (r - mean) ** 2, 0) / (returns.length - 1))
  const downside = Math.sqrt(returns.reduce((a, r) => a + (r < 0 ? r * r : 0), 0) / returns.length)
  let peak = p.capital
  let maxDrawdownPct = 0
  for (const e of equity) {
    peak = Math.max(peak, e)
    maxDrawdownPct = Math.max(maxDrawdownPct, ((peak - e) / peak) * 100)
  }
  const final = equity[equity.length - 1]!
  const years = equity.length / p.periodsPerYear
  const cagrPct = (Math.pow(final / p.capital, 1 / years) - 1) * 100
  const gains = trips.filter((t) => t > 0).reduce((a, b) => a + b, 0)
  const losses = -trips.filter((t) => t < 0).reduce((a, b) => a + b, 0)
  return {
    ...result,
    fees,
    totalReturnPct: (final / p.capital - 1) * 100,
    buyAndHoldPct: (closes[closes.length - 1]! / closes[0]! - 1) * 100,
    maxDrawdownPct,
    sharpe: (mean / sd) * Math.sqrt(p.periodsPerYear),
    sortino: (mean / downside) * Math.sqrt(p.periodsPerYear),
    cagrPct,
    calmar: cagrPct / maxDrawdownPct,
    profitFactor: gains / losses,
    averageTrade: trips.reduce((a, b) => a + b, 0) / trips.length,
    bestTrade: Math.max(...trips),
    worstTrade: Math.min(...trips),
    exposurePct: (held.filter(Boolean).length / held.length) * 100
  }
}

describe("backtest", () => {
  it.live("ADABTC 1m through the engine with SMA 9/21: the signals match an independent computation, every order fills", () =>
    Effect.gen(function*() {
      const rec = recorder()
      const report = yield* run({ maxOpenOrders: 1000 }, rec.layer)
      const candles = rec.of("CandleClosed").map((e) => e.payload)
      expect([report.candles, candles.length, report.dropped, report.malformed]).toEqual([1440, 1440, 0, 0])
      const indexOf = new Map(candles.map((c, i) => [c.closeTime, i]))
      const signals = rec.of("SignalGenerated").map((e) => ({ index: indexOf.get(e.payload.timestamp), direction: e.payload.direction }))
      const expected = expectedSmaSignals(candles.map((c) => c.close), 9, 21)
      expect(expected.length).toBeGreaterThan(10)
      expect(signals.length).toBe(expected.length)
      expect(signals).toEqual(expected)
      expect(report.signals).toBe(expected.length)
      const orders = rec.of("OrderCreated").map((e) => e.payload.clientOrderId)
      const fills = rec.of("OrderFilled").map((e) => e.payload.clientOrderId)
      expect(orders.length).toBeGreaterThan(0)
      expect([report.orders, report.fills, report.rejected]).toEqual([orders.length, orders.length, 0])
      expect(new Set(fills)).toEqual(new Set(orders))
      // the report's arithmetic
      expect(Number(report.totalPnl)).toBeCloseTo(Number(report.realizedPnl) + Number(report.unrealizedPnl), 12)
      expect(report.wins).toBeLessThanOrEqual(report.roundTrips)
      expect(report.winRate).toBe(report.roundTrips === 0 ? null : report.wins / report.roundTrips)
      expect(report.maxDrawdown).toBeGreaterThanOrEqual(Math.max(0, -Number(report.totalPnl)) - 1e-9)
      expect(report.candlesPerSecond).toBeGreaterThan(0)
    }), 60_000)

  for (const file of [adabtc, xrpeth]) {
    for (const fill of ["next-open", "close"] as const) {
      it.live(`${basename(file)}, fill ${fill}: the trades and every statistic match an independent replay of the SMA trades on the raw candles`, () =>
        Effect.gen(function*() {
          const rec = recorder()
          const report = yield* run({ candles: file, fill }, rec.layer)
          const candles = rec.of("CandleClosed").map((e) => e.payload)
          const expected = independentTrades(candles, {
            fast: 9, slow: 21, quoteAmount: 100, feeBps: 10, slippageBps: 5, fill, capital: 10_000,
            periodsPerYear: (365 * 24 * 60) / 1 // 1m candles
          })
          expect(expected.fills).toBeGreaterThan(10)
          expect(expected.roundTrips).toBeGreaterThan(5)
          expect([report.fills, report.roundTrips, report.wins, report.unfilledOrders]).toEqual([
            expected.fills, expected.roundTrips, expected.wins, expected.unfilled
          ])
          expect(report.winRate).toBeCloseTo(expected.wins / expected.roundTrips, 12)
          const close = (actual: string | number | null, wanted: number, tolerance = 1e-9) =>
            expect(Math.abs(Number(actual) - wanted)).toBeLessThan(tolerance * Math.max(1, Math.abs(wanted)))
          close(report.realizedPnl, expected.realized)
          close(report.unrealizedPnl, expected.unrealized)
          close(report.totalPnl, expected.realized + expected.unrealized)
          close(report.feesPaid, expected.fees)
          close(report.finalEquity, 10_000 + expected.realized + expected.unrealized)
          // ratios of equities near 10,000 that differ in their 12th digit: a relative tolerance of 1e-6
          for (const key of ["totalReturnPct", "buyAndHoldPct", "maxDrawdownPct", "sharpe", "sortino", "cagrPct", "calmar", "profitFactor", "exposurePct"] as const) {
            close(report[key], expected[key], 1e-6)
          }
          close(report.averageTrade, expected.averageTrade)
          close(report.expectancy, expected.averageTrade)
          close(report.bestTrade, expected.bestTrade)
          close(report.worstTrade, expected.worstTrade)
          expect(report.fill).toBe(fill)
          expect(report.capital).toBe("10000")
        }), 60_000)
    }
  }

  it.live("next-open: each order fills at the open of the candle after its signal, at that candle's open time", () =>
    Effect.gen(function*() {
      const rec = recorder()
      yield* run({ fill: "next-open" }, rec.layer)
      const candles = rec.of("CandleClosed").map((e) => e.payload)
      const next = new Map(candles.slice(0, -1).map((c, i) => [c.closeTime, candles[i + 1]!]))
      const created = new Map(rec.of("OrderCreated").map((e) => [e.payload.clientOrderId, e.payload]))
      const fills = rec.of("OrderFilled").map((e) => e.payload)
      expect(fills.length).toBeGreaterThan(10)
      for (const f of fills) {
        const candle = next.get(created.get(f.clientOrderId)!.createdAt)!
        const slip = f.side === "BUY" ? 1.0005 : 0.9995
        expect(f.filledAt).toBe(candle.openTime)
        expect(BigDecimal.unsafeToNumber(f.price)).toBeCloseTo(candle.open * slip, 15)
      }
    }), 60_000)

  it.live("next-open: an order decided on the last candle stays unfilled, and is reported", () =>
    Effect.gen(function*() {
      const content = yield* CandleFile.read({ path: adabtc }).pipe(Effect.provide(NodeFileSystem.layer))
      const last = expectedSmaSignals(content.candles.map((c) => c.close), 9, 21)[5]!.index
      const candles = content.candles.slice(0, last + 1)
      const open = yield* run({ candles: Stream.fromIterable(candles), fill: "next-open" })
      const close = yield* run({ candles: Stream.fromIterable(candles), fill: "close" })
      expect([open.unfilledOrders, open.rejected, open.orders]).toEqual([1, 1, open.fills + 1])
      expect([close.unfilledOrders, close.rejected, close.orders]).toEqual([0, 0, close.fills])
    }), 60_000)

  it.live("the CLI: --capital, --fill, --trades-csv and --equity-csv; the JSON carries the statistics by name", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "backtest-csv-"))
      const [json, trades, equity] = ["r.json", "trades.csv", "equity.csv"].map((f) => join(dir, f))
      const run = yield* Effect.promise(() =>
        runCli([
          "backtest", "--candles", adabtc, "--capital", "500", "--fill", "close", "--report-json", json!,
          "--trades-csv", trades!, "--equity-csv", equity!, "--log-level", "none"
        ])
      )
      expect(run.code).toBe(0)
      expect(run.stdout).toContain("capital 500 BTC")
      expect(run.stdout).not.toMatch(/\d\.\d{9,}/) // amounts at 8 decimals at most
      const report = JSON.parse(readFileSync(json!, "utf8"))
      for (const key of [
        "totalReturnPct", "buyAndHoldPct", "maxDrawdownPct", "maxDrawdownDuration", "sharpe", "sortino", "cagrPct", "calmar",
        "roundTrips", "winRate", "profitFactor", "expectancy", "bestTrade", "worstTrade", "averageTrade",
        "averageTradeDurationMs", "exposurePct", "feesPaid"
      ]) expect(report).toHaveProperty(key)
      expect([report.capital, report.fill, report.quoteAsset, report.priceDecimals]).toEqual(["500", "close", "BTC", 8])
      const fills = readFileSync(trades!, "utf8").trim().split("\n")
      expect(fills[0]).toBe("time,symbol,side,quantity,price,fee,clientOrderId")
      expect(fills.length - 1).toBe(report.fills)
      expect(fills[1]).toMatch(/^2021-11-27T\d\d:\d\d:59\.999Z,ADABTC,BUY,[\d.]+,[\d.]+,[\d.]+,\S+$/)
      const rows = readFileSync(equity!, "utf8").trim().split("\n")
      expect(rows[0]).toBe("closeTime,close,position,equity")
      expect(rows).toHaveLength(1441)
      expect(Number(rows[1440]!.split(",")[3])).toBeCloseTo(Number(report.finalEquity), 6)
      const bad = yield* Effect.promise(() => runCli(["backtest", "--candles", adabtc, "--fill", "open"]))
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain("--fill")
      expect(bad.stderr).toContain("next-open or close")
      const capital = yield* Effect.promise(() => runCli(["backtest", "--candles", adabtc, "--capital", "-5"]))
      expect(capital.code).toBe(2)
      expect(capital.stderr).toContain("--capital")
    }), 60_000)

  it.live("the CLI: `backtest --candles <file>` prints the report, writes --report-json and exits 0", () =>
    Effect.gen(function*() {
      const json = join(mkdtempSync(join(tmpdir(), "backtest-")), "report.json")
      const run = yield* Effect.promise(() =>
        runCli(["backtest", "--candles", adabtc, "--fast", "9", "--slow", "21", "--report-json", json, "--log-level", "none"])
      )
      expect(run.code).toBe(0)
      expect(run.stdout).toContain("backtest ADABTC 1m: 1440 candles")
      expect(run.stdout).toContain("win rate")
      expect(run.stdout).toContain("max drawdown")
      expect(run.stdout).toContain("candles/s")
      const report = JSON.parse(readFileSync(json, "utf8"))
      expect([report.symbol, report.candles, report.dropped]).toEqual(["ADABTC", 1440, 0])
    }), 60_000)

  it("the CLI: --report writes a self-contained HTML page with the equity curve that renders in headless Chromium", async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "backtest-html-"))
    const html = join(dir, "report.html")
    const run = await runCli(["backtest", "--candles", adabtc, "--fast", "9", "--slow", "21", "--report", html, "--log-level", "none"])
    expect(run.code).toBe(0)
    const page = readFileSync(html, "utf8")
    expect(page).toContain("Backtest ADABTC 1m")
    expect(page).toContain("Equity")
    expect(page).toMatch(/<svg[^>]*>[\s\S]*<path/)
    expect(page).toMatch(/win rate/i)
    // the statistics as cards, equity with its drawdown, the price with the fills, the trades; P&L in BTC
    for (const text of ["capital", "10000 BTC", "Sharpe", "profit factor", "Drawdown", "ADABTC close, with the fills", "Round trips", "<body class=\"wide\">"]) {
      expect(page).toContain(text)
    }
    expect((page.match(/class="marker"/g) ?? []).length).toBeGreaterThan(10)
    expect(page).not.toMatch(/>[^<]*\d\.\d{9,}[^<]*</) // amounts shown at 8 decimals at most
    expect(page).not.toMatch(/(src|href)\s*=\s*"(https?:)?\/\//)
    const skip = chromiumSkipReason()
    ctx.skip(skip !== undefined, skip)
    expect(looksBlank(await screenshotReport(html))).toBe(false)
  }, 90_000)

  it.live("the CLI: a missing file exits 2 naming --candles", () =>
    Effect.gen(function*() {
      const run = yield* Effect.promise(() => runCli(["backtest", "--candles", "/nonexistent/ADABTC-1m.csv"]))
      expect(run.code).toBe(2)
      expect(run.stderr).toContain("--candles")
      expect(run.stderr).toContain("/nonexistent/ADABTC-1m.csv")
    }), 60_000)

  it.live("lockstep (the default): each candle's orders fill before the next candle; the results repeat run after run", () =>
    Effect.gen(function*() {
      const rec = recorder()
      const eq = equityCurve()
      // the default maxOpenOrders (5) never binds: the pipeline is idle before each candle
      const a = yield* run({}, Layer.merge(rec.layer, eq.layer))
      const b = yield* run()
      expect([a.rejected, a.errors, a.dropped]).toEqual([0, 0, 0])
      const strip = ({ candlesPerSecond: _c, elapsedMs: _e, ...r }: typeof a) => r
      expect(strip(b)).toEqual(strip(a))
      // one order per signal, priced at the close of the signal's candle and filled before the next candle
      const candles = rec.of("CandleClosed").map((e) => e.payload)
      const closeAt = new Map(candles.map((c) => [c.closeTime, c.close]))
      const signals = rec.of("SignalGenerated").map((e) => e.payload)
      const orders = rec.of("OrderCreated").map((e) => e.payload)
      expect(orders.length).toBe(signals.length)
      expect(orders.map((o) => BigDecimal.unsafeToNumber(o.price))).toEqual(signals.map((sig) => closeAt.get(sig.timestamp)))
      let lastCandle: number | undefined
      const fillCandles: Array<number | undefined> = []
      for (const e of rec.all) {
        if (e.type === "CandleClosed") lastCandle = e.payload.closeTime
        if (e.type === "OrderFilled") fillCandles.push(lastCandle)
      }
      expect(fillCandles).toEqual(signals.map((sig) => sig.timestamp))
      // max drawdown recomputed from the independent equity curve (peak from 0), plus the final reading
      expect(eq.curve).toHaveLength(1440)
      let peak = 0
      let dd = 0
      for (const e of [...eq.curve, Number(a.totalPnl)]) {
        peak = Math.max(peak, e)
        dd = Math.max(dd, peak - e)
      }
      expect(a.maxDrawdown).toBeCloseTo(dd, 9)
      expect(a.maxDrawdownPct).toBeGreaterThan(0)
    }), 60_000)

  it.live("chunked: as fast as the data queue takes them, none dropped, the same signals", () =>
    Effect.gen(function*() {
      const rec = recorder()
      const report = yield* run({ lockstep: false, chunkSize: 100 }, rec.layer)
      const candles = rec.of("CandleClosed").map((e) => e.payload)
      expect([report.candles, candles.length, report.dropped]).toEqual([1440, 1440, 0])
      expect(candles.map((c) => c.openTime)).toEqual(candles.map((_, i) => 1637971200000 + i * 60_000))
      const indexOf = new Map(candles.map((c, i) => [c.closeTime, i]))
      expect(rec.of("SignalGenerated").map((e) => ({ index: indexOf.get(e.payload.timestamp), direction: e.payload.direction })))
        .toEqual(expectedSmaSignals(candles.map((c) => c.close), 9, 21))
      // every order created ends filled or rejected (a rejection may also be a signal the risk checks refused)
      const settled = new Set([...rec.of("OrderFilled"), ...rec.of("OrderRejected")].map((e) => e.payload.clientOrderId))
      expect(rec.of("OrderCreated").every((e) => settled.has(e.payload.clientOrderId))).toBe(true)
      expect(report.fills + report.rejected).toBeGreaterThanOrEqual(report.orders)
      expect(report.fills).toBe(rec.of("OrderFilled").length)
    }), 60_000)

  it.live("the CLI: a malformed row is skipped and counted; with --strict it exits 2 naming the line", () =>
    Effect.gen(function*() {
      const lines = readFileSync(adabtc, "utf8").split("\n").slice(0, 60)
      lines[4] = "1637971440000,0.00002859,garbage"
      const file = join(mkdtempSync(join(tmpdir(), "backtest-")), "ADABTC-1m-bad.csv")
      writeFileSync(file, lines.join("\n"))
      const lenient = yield* Effect.promise(() => runCli(["backtest", "--candles", file, "--log-format", "json"]))
      expect(lenient.code).toBe(0)
      expect(lenient.stdout).toContain("59 candles")
      expect(lenient.stdout).toContain("1 malformed rows skipped")
      expect(lenient.stderr).toContain("line 5 skipped")
      const strict = yield* Effect.promise(() => runCli(["backtest", "--candles", file, "--strict"]))
      expect(strict.code).toBe(2)
      expect(strict.stderr).toContain("--candles")
      expect(strict.stderr).toContain("line 5")
    }), 60_000)
  it.live("Backtest.run: a file path, a Stream<Candle> and an array of the same candles give the same report", () =>
    Effect.gen(function*() {
      const fromFile = yield* run()
      const content = yield* CandleFile.read({ path: adabtc }).pipe(Effect.provide(NodeFileSystem.layer))
      const fromStream = yield* run({ candles: Stream.fromIterable(content.candles) })
      const fromArray = yield* run({ candles: content.candles })
      expect(content.candles).toHaveLength(1440) // the caller's array is read, not emptied
      const strip = ({ candlesPerSecond: _c, elapsedMs: _e, file: _f, ...r }: Backtest.BacktestReport) => r
      expect(fromStream.file).toBe("stream")
      expect(fromArray.file).toBe("array")
      expect(fromFile.fills).toBeGreaterThan(10)
      expect(strip(fromStream)).toEqual(strip(fromFile))
      expect(strip(fromArray)).toEqual(strip(fromFile))
    }), 60_000)

  it.live("Backtest.run keeps no curves and reports what runDetailed reports, every statistic to the last digit", () =>
    Effect.gen(function*() {
      const strip = ({ candlesPerSecond: _c, elapsedMs: _e, ...r }: Backtest.BacktestReport) => r
      for (const fill of ["next-open", "close"] as const) {
        const report = yield* run({ fill, allowShort: true })
        const details = yield* quiet(Backtest.runDetailed({ candles: adabtc, strategy: sma(9, 21), fill, allowShort: true }))
        expect(report.exposurePct).toBeGreaterThan(0)
        expect(strip(report)).toEqual(strip(details.report))
        expect(details.curves.equity).toHaveLength(report.candles)
      }
    }), 60_000)

  it.live("Backtest.run: an empty or failing stream, an empty array, fail with a CandleFileError, as data", () =>
    Effect.gen(function*() {
      const noArray = yield* Effect.flip(run({ candles: [] }))
      expect([noArray._tag, noArray.message]).toEqual(["CandleFileError", "array: no candles in the array"])
      const empty = yield* Effect.flip(run({ candles: Stream.empty }))
      expect([empty._tag, empty.message]).toEqual(["CandleFileError", "stream: the stream gave no candle"])
      const failing = yield* Effect.flip(run({ candles: Stream.fail(new Error("socket closed")) }))
      expect(failing.message).toContain("socket closed")
    }), 60_000)

  it.live("the CLI: an unwritable --report or --report-json exits 2 at start, before the backtest runs", () =>
    Effect.gen(function*() {
      for (const flag of ["--report", "--report-json"]) {
        const run = yield* Effect.promise(() => runCli(["backtest", "--candles", adabtc, flag, "/nonexistent/x.html"]))
        expect(run.code).toBe(2)
        expect(run.stderr).toContain(`invalid ${flag} "/nonexistent/x.html"`)
        expect(run.stderr).not.toMatch(/\n\s+at /)
        expect(run.stdout).not.toContain("candles/s")
      }
    }), 60_000)
})
