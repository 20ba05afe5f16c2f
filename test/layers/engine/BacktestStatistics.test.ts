import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import type { Candle } from "../../../src/domain/Candle.js"
import {
  buyAndHoldPct,
  equityStatistics,
  heldShare,
  periodsPerYear,
  type RoundTrip,
  tradeStatistics
} from "../../../src/layers/engine/BacktestStatistics.js"
import { decimalsOf, priceDecimalsOf, quoteAssetOf } from "../../../src/layers/engine/SymbolInfo.js"

const trip = (pnl: string, openedAt = 0, closedAt = 60_000): RoundTrip => ({
  symbol: "ADABTC",
  side: "long",
  openedAt,
  closedAt,
  quantity: BigDecimal.unsafeFromString("1"),
  entryPrice: BigDecimal.unsafeFromString("1"),
  exitPrice: BigDecimal.unsafeFromString("1"),
  pnl: BigDecimal.unsafeFromString(pnl)
})

describe("BacktestStatistics", () => {
  it("periods per year: every day of the year traded", () => {
    expect(periodsPerYear(60_000)).toBe(525_600)
    expect(periodsPerYear(3_600_000)).toBe(8_760)
    expect(periodsPerYear(86_400_000)).toBe(365)
  })

  it("equity: returns from the capital, drawdown from a peak that starts at the capital, worked by hand", () => {
    // capital 100; equity 110, 99, 120, 108: returns 0.1, -0.1, 21/99, -0.1
    const s = equityStatistics(100, [110, 99, 120, 108], 4)
    const r = [0.1, -0.1, 21 / 99, -0.1]
    const mean = (0.1 - 0.1 + 21 / 99 - 0.1) / 4
    const sd = Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / 3)
    const downside = Math.sqrt((2 * 0.01) / 4) // two losing candles of -10% among four
    expect(s.totalReturnPct).toBeCloseTo(8, 12)
    // 110 -> 99 is 10% of the peak; 120 -> 108 is 10% too, not more: the first one is the worst, 2 candles long
    expect(s.maxDrawdownPct).toBeCloseTo(10, 12)
    expect(s.maxDrawdown).toBeCloseTo(12, 12)
    expect([s.maxDrawdownDuration, s.maxDrawdownRecovered]).toEqual([2, true])
    expect(s.sharpe).toBeCloseTo((mean / sd) * 2, 12)
    expect(s.sortino).toBeCloseTo((mean / downside) * 2, 12)
    // 4 candles at 4 a year: one year, so the CAGR is the total return
    expect(s.cagrPct).toBeCloseTo(8, 10)
    expect(s.calmar).toBeCloseTo(0.8, 10)
  })

  it("equity: a drawdown from the capital that never recovers lasts to the end; flat equity has no ratios", () => {
    const s = equityStatistics(100, [100, 90, 95], 525_600)
    expect([s.maxDrawdownPct, s.maxDrawdownDuration, s.maxDrawdownRecovered]).toEqual([10, 3, false])
    const flat = equityStatistics(100, [100, 100, 100], 525_600)
    expect(flat).toMatchObject({ totalReturnPct: 0, maxDrawdownPct: 0, maxDrawdownDuration: 0, sharpe: null, sortino: null, calmar: null })
  })

  it("trades: win rate, profit factor, expectancy, best, worst, average, duration, exact decimals", () => {
    const s = tradeStatistics([trip("2", 0, 60_000), trip("-1", 0, 120_000), trip("0", 0, 60_000), trip("3.000000000000000001", 0, 60_000)])
    expect(s).toMatchObject({
      roundTrips: 4,
      wins: 2,
      winRate: 0.5,
      grossProfit: "5.000000000000000001",
      grossLoss: "1",
      averageWin: "2.5",
      averageLoss: "-1",
      bestTrade: "3.000000000000000001",
      worstTrade: "-1",
      averageTradeDurationMs: 75_000
    })
    expect(s.profitFactor).toBeCloseTo(5, 12)
    // winRate x averageWin + lossRate x averageLoss = 0.5 x 2.5 + 0.25 x -1 = 1
    expect(Number(s.expectancy)).toBeCloseTo(1, 15)
    expect(s.averageTrade).toBe(s.expectancy)
    expect(tradeStatistics([])).toMatchObject({ roundTrips: 0, winRate: null, profitFactor: null, expectancy: null, bestTrade: null })
    expect(tradeStatistics([trip("1")]).profitFactor).toBeNull()
  })

  it("buy and hold, exposure", () => {
    expect(buyAndHoldPct([2, 3, 2.5])).toBeCloseTo(25, 12)
    expect(heldShare(2, 4)).toBe(50)
    expect(heldShare(0, 0)).toBe(0)
  })
})

describe("SymbolInfo", () => {
  it.each([
    ["ADABTC", "BTC"],
    ["btcusdt", "USDT"],
    ["ETHFDUSD", "FDUSD"],
    ["XRP_ETH", "ETH"],
    ["BNBTRY", "TRY"],
    ["FOOBAR", "quote"],
    ["BTC", "quote"]
  ])("the quote asset of %s is %s (the longest known quote that ends it)", (symbol, quote) => {
    expect(quoteAssetOf(symbol)).toBe(quote)
  })

  it("a file's price precision: the most decimals seen, capped at 8", () => {
    const candle = (close: number): Candle => ({
      symbol: "X", interval: "1m", openTime: 0, closeTime: 59_999, open: 1, high: close, low: 1, close, volume: 0, quoteVolume: 0, trades: 0, isClosed: true
    })
    expect([decimalsOf(0.00002859), decimalsOf(1e-7), decimalsOf(42000.1), decimalsOf(42000)]).toEqual([8, 7, 1, 0])
    expect(priceDecimalsOf([candle(42000.1), candle(42000.25)])).toBe(2)
    expect(priceDecimalsOf([candle(0.123456789012)])).toBe(8)
  })
})
