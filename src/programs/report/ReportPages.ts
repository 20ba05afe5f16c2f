import { Duration } from "effect"
import { queueNames } from "../../domain/BusEvent.js"
import { formatAmount } from "../../domain/Decimal.js"
import { render, type Series } from "./HtmlReport.js"
import type { TimelineSample } from "./RunTimeline.js"
import type { RunSummary } from "../Summary.js"

/** The self-contained HTML pages `backtest --report` and `run --report` write. */

export { backtestPage } from "./BacktestPage.js"

const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z")

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
      // to 8 decimals, the quote asset's precision on Binance (the summary JSON keeps every digit)
      ["P&L realized", formatAmount(summary.pnl.realized)],
      ["P&L unrealized", formatAmount(summary.pnl.unrealized)],
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
