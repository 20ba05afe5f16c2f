import { BigDecimal, Duration } from "effect"
import { queueNames } from "../domain/BusEvent.js"
import { formatAmount } from "../domain/Decimal.js"
import { formatBreaker } from "../layers/execution/CircuitBreakerBroker.js"
import { money, type RunSummary, type Snapshot } from "../layers/engine/RunSummary.js"

// the summary and the snapshot are the library's (src/layers/engine); this module prints them
export { type RunSummary, type Snapshot, summarize } from "../layers/engine/RunSummary.js"

const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0)

/** One line, printed every few seconds while the engine runs. */
export const statusLine = (s: Snapshot, candlesPerSecond: number): string => {
  const q = queueNames.map((name) => `${name} ${s.bus[name].size}/${s.bus[name].capacity}`).join(" ")
  const dropped = s.bus.data.dropped
  const open = s.positions.filter((p) => !BigDecimal.isZero(p.quantity)).length
  return [
    `candles/s ${candlesPerSecond.toFixed(1)}`,
    `queues ${q}`,
    `dropped ${dropped}`,
    `signals ${s.engine.signals}`,
    `orders ${s.engine.orders}`,
    `fills ${s.engine.fills}`,
    `open positions ${open}`,
    `pnl ${money(s.pnl.realized)} realized, ${money(s.pnl.unrealized)} unrealized`,
    ...(s.breaker === undefined ? [] : [formatBreaker(s.breaker)]),
    s.collector.connected ? "connected" : "DISCONNECTED"
  ].join(" | ")
}

export const candleCount = (s: Snapshot): number => sum(s.engine.candles)

/** The summary printed at the end of a run. */
export const formatSummary = (summary: RunSummary, elapsed: Duration.Duration): string => {
  const lines = [
    `trading-bus: run summary after ${Duration.format(elapsed)}`,
    `  candles     ${sum(summary.candles)} (${
      Object.entries(summary.candles).map(([s, n]) => `${s} ${n}`).join(", ") || "none"
    })`,
    `  signals     ${summary.signals}`,
    `  orders      ${summary.orders} (${summary.fills} filled, ${summary.rejected} rejected)`,
    `  errors      ${summary.errors}`,
    ...queueNames.map((q) => {
      const x = summary.queues[q]!
      return `  queue ${q.padEnd(6)} ${x.processed} processed, ${x.dropped} dropped, ${x.failed} handler failures`
    }),
    `  collector   ${summary.collector.messages} messages, ${summary.collector.malformed} malformed, ${summary.collector.ignored} ignored, ${summary.collector.reconnects} reconnects, ${summary.collector.connectionFailures} connection failures, ${summary.collector.backfilled} backfilled, ${summary.collector.gaps} gaps`,
    `  positions   ${
      Object.entries(summary.positions).map(([s, q]) => `${s} ${q}`).join(", ") || "none"
    }`,
    `  P&L         ${formatAmount(summary.pnl.realized)} realized, ${formatAmount(summary.pnl.unrealized)} unrealized`
  ]
  return lines.join("\n")
}
