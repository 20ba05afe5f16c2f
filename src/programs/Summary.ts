import { BigDecimal, Duration } from "effect"
import { queueNames } from "../domain/BusEvent.js"
import { formatDecimal } from "../domain/Decimal.js"
import type { Position } from "../domain/Position.js"
import { type BreakerSnapshot, formatBreaker } from "../layers/execution/CircuitBreakerBroker.js"
import type { EngineCounters } from "../services/EngineStats.js"
import type { BusStats } from "../services/EventBus.js"
import type { CollectorStats } from "../services/MarketData.js"
import type { PnL } from "../services/Portfolio.js"

/** A run's final numbers; `--summary-json` writes exactly this shape (decimals as strings). */
export interface RunSummary {
  readonly candles: Record<string, number>
  readonly signals: number
  readonly orders: number
  readonly fills: number
  readonly rejected: number
  readonly errors: number
  readonly queues: Record<string, { readonly processed: number; readonly dropped: number; readonly failed: number }>
  readonly collector: {
    readonly messages: number
    readonly malformed: number
    readonly reconnects: number
    readonly backfilled: number
  }
  readonly positions: Record<string, string>
  readonly pnl: { readonly realized: string; readonly unrealized: string }
}

export interface Snapshot {
  readonly bus: BusStats
  readonly engine: EngineCounters
  readonly collector: CollectorStats
  readonly positions: ReadonlyArray<Position>
  readonly pnl: PnL
  /** The circuit breaker around the broker, when there is one. */
  readonly breaker?: BreakerSnapshot | undefined
}

export const summarize = (s: Snapshot): RunSummary => ({
  candles: { ...s.engine.candles },
  signals: s.engine.signals,
  orders: s.engine.orders,
  fills: s.engine.fills,
  rejected: s.engine.rejected,
  errors: s.engine.errors,
  queues: Object.fromEntries(queueNames.map((q) => {
    const { dropped, failed, processed } = s.bus[q]
    return [q, { processed, dropped, failed }]
  })),
  collector: {
    messages: s.collector.messages,
    malformed: s.collector.malformed,
    reconnects: s.collector.reconnects,
    backfilled: s.collector.backfilled
  },
  positions: Object.fromEntries(s.positions.map((p) => [p.symbol, formatDecimal(p.quantity)])),
  pnl: { realized: money(s.pnl.realized), unrealized: money(s.pnl.unrealized) }
})

/** P&L to 8 decimals, the quote asset's precision on Binance. */
const money = (d: BigDecimal.BigDecimal) => formatDecimal(BigDecimal.round(d, { scale: 8 }))

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
    `  collector   ${summary.collector.messages} messages, ${summary.collector.malformed} malformed, ${summary.collector.reconnects} reconnects, ${summary.collector.backfilled} backfilled`,
    `  positions   ${
      Object.entries(summary.positions).map(([s, q]) => `${s} ${q}`).join(", ") || "none"
    }`,
    `  P&L         ${summary.pnl.realized} realized, ${summary.pnl.unrealized} unrealized`
  ]
  return lines.join("\n")
}
