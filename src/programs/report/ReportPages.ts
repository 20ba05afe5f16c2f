import { BigDecimal, Duration } from "effect"
import { queueNames } from "../../domain/BusEvent.js"
import { formatDecimal } from "../../domain/Decimal.js"
import type { BacktestReport, EquityCurves } from "../Backtest.js"
import { type Chart, render, type Series } from "./HtmlReport.js"
import type { TimelineSample } from "./RunTimeline.js"
import type { RunSummary } from "../Summary.js"

/** The self-contained HTML pages `backtest --report` and `run --report` write. */

const zip = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>): Series["points"] => xs.map((x, i) => [x, ys[i]!] as const)

const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z")

/** To 8 decimals, the quote asset's precision on Binance (the JSON report keeps every digit). */
const money = (decimal: string) => formatDecimal(BigDecimal.round(BigDecimal.unsafeFromString(decimal), { scale: 8 }))

const pct = (x: number | null) => x === null ? "n/a" : `${(x * 100).toFixed(1)}%`

export const backtestPage = (r: BacktestReport, curves: EquityCurves, generatedAt: number): string => {
  const charts: Array<Chart> = [
    {
      title: "Equity: realized + unrealized P&L after each candle",
      unit: "quote",
      baseline: 0,
      series: [
        { name: "equity", points: zip(curves.time, curves.equity) },
        { name: "realized", points: zip(curves.time, curves.realized) }
      ]
    },
    { title: `${r.symbol} close`, unit: "price", series: [{ name: "close", points: zip(curves.time, curves.close) }] }
  ]
  return render({
    title: `Backtest ${r.symbol} ${r.interval}`,
    subtitle: `${r.candles} candles from ${iso(r.from)} to ${iso(r.to + 1)}, ${r.file}`,
    generatedAt,
    summary: [
      ["candles", String(r.candles)],
      ["malformed rows skipped", String(r.malformed)],
      ...(r.dropped > 0 ? [["candles dropped", String(r.dropped)] as const] : []),
      ["signals", String(r.signals)],
      ["orders", `${r.orders} (${r.fills} filled, ${r.rejected} rejected)`],
      ["round trips", `${r.roundTrips} (${r.wins} won)`],
      ["win rate", pct(r.winRate)],
      ["P&L realized", money(r.realizedPnl)],
      ["P&L unrealized", money(r.unrealizedPnl)],
      ["P&L total", money(r.totalPnl)],
      ["max drawdown", `${r.maxDrawdown.toPrecision(6)} (${r.maxDrawdownPct.toFixed(2)}%)`],
      ["speed", `${r.candlesPerSecond} candles/s (${r.elapsedMs} ms)`],
      ["errors", String(r.errors)]
    ],
    charts
  })
}

export interface RunPageMeta {
  readonly title: string
  readonly started: number
  readonly ended: number
  readonly capacities: Readonly<Record<string, number>>
}

/** Events handled per second between consecutive samples, at the later one. */
const rates = (samples: ReadonlyArray<TimelineSample>): Series["points"] => {
  const points: Array<readonly [number, number]> = []
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!
    const b = samples[i]!
    if (b.t > a.t) points.push([b.t, ((b.processed - a.processed) * 1000) / (b.t - a.t)])
  }
  return points
}

export const runPage = (summary: RunSummary, samples: ReadonlyArray<TimelineSample>, meta: RunPageMeta): string => {
  const series = (name: string, value: (s: TimelineSample) => number): Series => ({
    name,
    points: samples.map((s) => [s.t, value(s)] as const)
  })
  const candles = Object.values(summary.candles).reduce((a, b) => a + b, 0)
  return render({
    title: meta.title,
    subtitle: `from ${iso(meta.started)} to ${iso(meta.ended)} (${Duration.format(Duration.millis(meta.ended - meta.started))})`,
    generatedAt: meta.ended,
    summary: [
      ["candles", `${candles} (${Object.entries(summary.candles).map(([s, n]) => `${s} ${n}`).join(", ") || "none"})`],
      ["signals", String(summary.signals)],
      ["orders", `${summary.orders} (${summary.fills} filled, ${summary.rejected} rejected)`],
      ["errors", String(summary.errors)],
      ["P&L realized", summary.pnl.realized],
      ["P&L unrealized", summary.pnl.unrealized],
      [
        "collector",
        `${summary.collector.messages} messages, ${summary.collector.malformed} malformed, ${summary.collector.reconnects} reconnects, ${summary.collector.backfilled} backfilled`
      ]
    ],
    charts: [
      {
        title: "Equity: realized + unrealized P&L",
        unit: "quote",
        baseline: 0,
        series: [series("equity", (s) => s.equity), series("realized", (s) => s.realized)]
      },
      {
        title: `Queue depths, the highest in each 250 ms (capacity ${queueNames.map((q) => `${q} ${meta.capacities[q]}`).join(", ")})`,
        unit: "events",
        kind: "step",
        series: queueNames.map((q) => series(q, (s) => s.sizes[q]))
      },
      { title: "Events handled per second, all queues", unit: "events/s", series: [{ name: "events/s", points: rates(samples) }] }
    ],
    tables: [
      {
        title: "Queues",
        columns: ["queue", "processed", "dropped", "handler failures"],
        rows: queueNames.map((q) => {
          const x = summary.queues[q]!
          return [q, String(x.processed), String(x.dropped), String(x.failed)]
        })
      },
      {
        title: "Positions",
        columns: ["symbol", "quantity"],
        rows: Object.entries(summary.positions).map(([symbol, quantity]) => [symbol, quantity])
      }
    ]
  })
}
