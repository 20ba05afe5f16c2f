import { BigDecimal } from "effect"
import { formatAmount } from "../../domain/Decimal.js"
import type { BacktestDetails, BacktestReport } from "../../layers/engine/Backtest.js"
import type { SweepReport, SweepResult } from "../../layers/engine/Sweep.js"
import { duration, fillModelText, percent, quote, ratio, share } from "./BacktestFormat.js"
import { type Chart, render, type Series } from "./HtmlReport.js"
import { type ChartMarker, escapeHtml } from "./svgChart.js"

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

const metric = (r: BacktestReport, field: SweepReport["rankBy"]): number | undefined => {
  const v = r[field]
  return typeof v === "number" && Number.isFinite(v) ? v : undefined
}

const metricText = (r: BacktestReport | undefined, field: SweepReport["rankBy"]): string => {
  const v = r === undefined ? undefined : metric(r, field)
  return v === undefined ? "–" : field === "winRate" ? share(v) : field.endsWith("Pct") ? percent(v) : field === "roundTrips" ? String(v) : ratio(v)
}

/** Red (worst) through yellow to green (best), for a share 0..1 of the way from the worst value to the best. */
const colourOf = (t: number): string => {
  const stops = [[215, 48, 39], [254, 224, 139], [26, 152, 80]] as const
  const [a, b, u] = t < 0.5 ? [stops[0], stops[1], t * 2] : [stops[1], stops[2], (t - 0.5) * 2]
  return `rgb(${a.map((c, i) => Math.round(c + (b[i]! - c) * u)).join(",")})`
}

const HEATMAP_CSS = `<style>
table.heat{border-collapse:separate;border-spacing:3px}
table.heat td,table.heat th{border:0;padding:0;text-align:center;vertical-align:middle}
table.heat td.cell{min-width:64px;height:40px;padding:2px 6px;border-radius:4px;font-weight:600;color:#1d2330}
table.heat td.best{outline:3px solid #1d2330}
table.heat td.skipped{background:#eef0f4;color:#9aa1ad;font-weight:400}
table.heat th{color:#4a5568;font-weight:600;padding:0 6px}
</style>`

/**
 * The grid as a heatmap coloured by the rank field, best green: rows and columns for 2 parameters, one row for 1.
 * More parameters have no heatmap (the table of the best combinations shows them).
 */
export const sweepHeatmap = (s: SweepReport): string => {
  const keys = Object.keys(s.grid)
  if (keys.length === 0 || keys.length > 2) return ""
  const byKey = new Map(s.results.map((r) => [keys.map((k) => String(r.params[k])).join("\u0000"), r] as const))
  const values = s.results.map((r) => metric(r.report, s.rankBy)).filter((v): v is number => v !== undefined)
  const [low, high] = [Math.min(...values), Math.max(...values)]
  const cell = (params: ReadonlyArray<string>) => {
    const r: SweepResult | undefined = byKey.get(params.join("\u0000"))
    const title = escapeHtml(keys.map((k, i) => `${k}=${params[i]}`).join(", "))
    if (r === undefined) return `<td class="cell skipped" title="${title}: skipped">skipped</td>`
    const v = metric(r.report, s.rankBy)
    const t = v === undefined ? undefined : high === low ? 1 : (v - low) / (high - low)
    const shade = t === undefined ? "#eef0f4" : colourOf(s.lowerIsBetter ? 1 - t : t)
    return `<td class="cell${r.rank === 1 ? " best" : ""}" style="background:${shade}" title="${title}: rank ${r.rank}">${
      escapeHtml(metricText(r.report, s.rankBy))
    }</td>`
  }
  const [rowKey, columnKey] = keys as [string, string | undefined]
  const rows = columnKey === undefined
    ? [`<tr><th>${escapeHtml(rowKey)}</th>${s.grid[rowKey]!.map((v) => `<th>${escapeHtml(String(v))}</th>`).join("")}</tr>`,
      `<tr><th>${escapeHtml(s.rankBy)}</th>${s.grid[rowKey]!.map((v) => cell([String(v)])).join("")}</tr>`]
    : [`<tr><th>${escapeHtml(rowKey)} \\ ${escapeHtml(columnKey)}</th>${s.grid[columnKey]!.map((v) => `<th>${escapeHtml(String(v))}</th>`).join("")}</tr>`,
      ...s.grid[rowKey]!.map((rv) =>
        `<tr><th>${escapeHtml(String(rv))}</th>${s.grid[columnKey]!.map((cv) => cell([String(rv), String(cv)])).join("")}</tr>`
      )]
  return `<section class="heatmap">${HEATMAP_CSS}<h2>${escapeHtml(`${s.rankBy} over the grid (${s.lowerIsBetter ? "lowest" : "highest"} is best, green; the best is outlined)`)}</h2><table class="heat">${
    rows.join("\n")
  }</table><p class="note">${escapeHtml(`${values.length > 0 ? `From ${metricText(s.results.at(-1)?.report, s.rankBy)} to ${metricText(s.results[0]?.report, s.rankBy)}. ` : ""}Grey: skipped (the strategy refused the parameters) or no value.`)}</p></section>`
}

/** `backtest --report` with a grid: the best combination's statistics, the heatmap, the best combinations. */
export const sweepPage = (s: SweepReport, generatedAt: number): string => {
  const keys = Object.keys(s.grid)
  const best = s.results[0]
  const r = best?.report
  const paramsText = (p: SweepResult["params"]) => Object.entries(p).map(([k, v]) => `${k}=${v}`).join(", ")
  const columns = ["sharpe", "sortino", "totalReturnPct", "maxDrawdownPct", "profitFactor", "winRate", "roundTrips"] as const
  return render({
    title: `Sweep ${r?.symbol ?? ""} ${r?.interval ?? ""}`,
    subtitle: `${s.combinations} combinations of ${keys.join(", ")} (${s.skipped.length} skipped), ${s.file}, strategy ${s.strategy}; ranked by ${s.rankBy}`,
    generatedAt,
    wide: true,
    summary: r === undefined ? [["combinations run", "0"]] : [
      ["best", paramsText(best!.params)],
      [s.rankBy, metricText(r, s.rankBy)],
      ["total return", percent(r.totalReturnPct)],
      ["max drawdown", percent(r.maxDrawdownPct)],
      ...(s.rankBy === "sharpe" ? [] : [["Sharpe", ratio(r.sharpe)] as const]),
      ["round trips", `${r.roundTrips} (${r.wins} won)`],
      ["P&L total", quote(r, r.totalPnl)],
      ["workers", `${s.workers} threads, ${s.elapsedMs} ms`]
    ],
    sections: [sweepHeatmap(s)].filter((x) => x !== ""),
    charts: [],
    tables: [{
      title: s.results.length > 20 ? `The 20 best of ${s.results.length} combinations` : "Every combination, best first",
      columns: ["#", ...keys, ...columns],
      rows: s.results.slice(0, 20).map((x) => [String(x.rank), ...keys.map((k) => String(x.params[k])), ...columns.map((c) => metricText(x.report, c))])
    }]
  })
}
