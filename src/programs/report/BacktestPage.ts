import { BigDecimal } from "effect"
import { formatAmount } from "../../domain/Decimal.js"
import type { BacktestDetails } from "../../layers/engine/Backtest.js"
import { duration, fillModelText, percent, quote, ratio, share } from "./BacktestFormat.js"
import { type Chart, render, type Series } from "./HtmlReport.js"
import type { ChartMarker } from "./svgChart.js"

const zip = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>): Series["points"] => xs.map((x, i) => [x, ys[i]!] as const)

const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z")

const time = (t: number) => iso(t).replace("T", " ").replace("Z", "")

/** A price or quantity at the symbol's precision, trailing zeros kept so that a column lines up. */
const fixed = (d: BigDecimal.BigDecimal, decimals: number): string => {
  const text = formatAmount(d, decimals)
  if (decimals === 0) return text
  const [whole, fraction = ""] = text.split(".")
  return `${whole}.${fraction.padEnd(decimals, "0")}`
}

/** The drawdown after each candle, in % of the running peak of equity (capital included), as a negative number. */
const drawdowns = (capital: number, equity: ReadonlyArray<number>): Array<number> => {
  let peak = capital
  return equity.map((e) => {
    peak = Math.max(peak, e)
    return peak > 0 ? -((peak - e) / peak) * 100 : 0
  })
}

/** `backtest --report`: the statistics as cards, equity with its drawdown, the price with the fills, the trades. */
export const backtestPage = (details: BacktestDetails, generatedAt: number): string => {
  const { curves, fills, report: r, trips } = details
  const capital = BigDecimal.unsafeToNumber(BigDecimal.unsafeFromString(r.capital))
  const equity = curves.equity.map((e) => capital + e)
  const markers: Array<ChartMarker> = fills
    .filter((f) => f.symbol === r.symbol)
    .map((f) => ({
      t: f.filledAt,
      v: BigDecimal.unsafeToNumber(f.price),
      kind: f.side === "BUY" ? "buy" : "sell",
      label: `${f.side} ${fixed(f.quantity, r.quantityDecimals)} at ${fixed(f.price, r.priceDecimals)} ${r.quoteAsset}, ${time(f.filledAt)}`
    }))
  const charts: Array<Chart> = [
    {
      title: `Equity: capital + realized + unrealized P&L after each candle (${r.quoteAsset})`,
      unit: r.quoteAsset,
      baseline: capital,
      series: [{ name: "equity", points: zip(curves.time, equity) }],
      note: `The dashed line is the capital, ${quote(r, r.capital)}.`
    },
    {
      title: "Drawdown: the fall from the running peak of equity",
      unit: "%",
      baseline: 0,
      series: [{ name: "drawdown", points: zip(curves.time, drawdowns(capital, equity)) }]
    },
    {
      title: `${r.symbol} close, with the fills`,
      unit: r.quoteAsset,
      series: [{ name: "close", points: zip(curves.time, curves.close) }],
      markers,
      note: `Buys point up, sells down, at the fill's price and time; ${fillModelText(r)}.`
    }
  ]
  return render({
    title: `Backtest ${r.symbol} ${r.interval}`,
    subtitle: `${r.candles} candles from ${iso(r.from)} to ${iso(r.to + 1)}, ${r.file}; ${fillModelText(r)}`,
    generatedAt,
    wide: true,
    summary: [
      ["capital", quote(r, r.capital)],
      ["final equity", quote(r, r.finalEquity)],
      ["total return", percent(r.totalReturnPct)],
      ["buy and hold", percent(r.buyAndHoldPct)],
      ["CAGR", percent(r.cagrPct)],
      ["max drawdown", `${percent(r.maxDrawdownPct)} over ${r.maxDrawdownDuration} candles${r.maxDrawdownRecovered ? "" : ", not recovered"}`],
      ["Sharpe", ratio(r.sharpe)],
      ["Sortino", ratio(r.sortino)],
      ["Calmar", ratio(r.calmar)],
      ["exposure", percent(r.exposurePct, 1)],
      ["round trips", `${r.roundTrips} (${r.wins} won)`],
      ["win rate", share(r.winRate)],
      ["profit factor", ratio(r.profitFactor)],
      ["expectancy", quote(r, r.expectancy)],
      ["best trade", quote(r, r.bestTrade)],
      ["worst trade", quote(r, r.worstTrade)],
      ["average trade", quote(r, r.averageTrade)],
      ["average duration", duration(r.averageTradeDurationMs)],
      ["P&L realized", quote(r, r.realizedPnl)],
      ["P&L unrealized", quote(r, r.unrealizedPnl)],
      ["P&L total", quote(r, r.totalPnl)],
      ["fees paid", quote(r, r.feesPaid)],
      ["orders", `${r.orders} (${r.fills} filled, ${r.rejected} rejected${r.unfilledOrders > 0 ? `, ${r.unfilledOrders} unfilled` : ""})`],
      ["signals", String(r.signals)],
      ["candles", `${r.candles} (${r.malformed} malformed${r.dropped > 0 ? `, ${r.dropped} dropped` : ""})`],
      ["errors", String(r.errors)],
      ["speed", `${r.candlesPerSecond} candles/s`]
    ],
    charts,
    tables: [
      {
        title: `Round trips (P&L in ${r.quoteAsset}, fees included)`,
        columns: ["#", "side", "opened", "closed", "held", "quantity", "entry", "exit", "P&L"],
        rows: trips.map((t, i) => [
          String(i + 1),
          t.side,
          time(t.openedAt),
          time(t.closedAt),
          duration(t.closedAt - t.openedAt),
          fixed(t.quantity, r.quantityDecimals),
          fixed(t.entryPrice, r.priceDecimals),
          fixed(t.exitPrice, r.priceDecimals),
          fixed(t.pnl, 8)
        ])
      }
    ]
  })
}
