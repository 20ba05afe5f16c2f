import { BigDecimal, Context, Effect, Option } from "effect"
import { queueNames } from "../../domain/BusEvent.js"
import { formatAmount, formatDecimal } from "../../domain/Decimal.js"
import type { Position } from "../../domain/Position.js"
import { BreakerState, type BreakerSnapshot } from "../execution/CircuitBreakerBroker.js"
import { type EngineCounters, EngineStats } from "../../services/EngineStats.js"
import { type BusStats, EventBus } from "../../services/EventBus.js"
import { type CollectorStats, MarketData } from "../../services/MarketData.js"
import { type PnL, Portfolio } from "../../services/Portfolio.js"

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
    /** Frames of streams the collector does not handle (aggTrade, depth, ...). */
    readonly ignored: number
    /** Connection attempts that never opened (DNS, refused, TLS, timeout). */
    readonly connectionFailures: number
    /** Gaps given up on: candles never delivered, each also an `Error` event. */
    readonly gaps: number
  }
  readonly positions: Record<string, string>
  readonly pnl: { readonly realized: string; readonly unrealized: string }
}

/** Everything the engine can tell about itself at one moment: the summary, the status line and the dashboard read it. */
export interface Snapshot {
  readonly bus: BusStats
  readonly engine: EngineCounters
  readonly collector: CollectorStats
  readonly positions: ReadonlyArray<Position>
  readonly pnl: PnL
  /** The circuit breaker around the broker, when there is one. */
  readonly breaker?: BreakerSnapshot | undefined
}

/** The services a built engine offers and a snapshot reads. */
export type EngineServices = EventBus | EngineStats | MarketData | Portfolio

/** P&L as text: to 8 decimals, the quote asset's precision on Binance (the summary itself keeps exact strings). */
export const money = (d: BigDecimal.BigDecimal) => formatAmount(d)

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
    backfilled: s.collector.backfilled,
    ignored: s.collector.ignored ?? 0,
    connectionFailures: s.collector.connectionFailures ?? 0,
    gaps: s.collector.gaps ?? 0
  },
  positions: Object.fromEntries(s.positions.map((p) => [p.symbol, formatDecimal(p.quantity)])),
  pnl: { realized: formatDecimal(s.pnl.realized), unrealized: formatDecimal(s.pnl.unrealized) }
})

/** What the status line, the dashboard and the summary are made from. */
export const snapshot = (context: Context.Context<EngineServices>) =>
  Effect.all({
    bus: Context.get(context, EventBus).stats,
    engine: Context.get(context, EngineStats).snapshot,
    collector: Context.get(context, MarketData).stats,
    positions: Context.get(context, Portfolio).positions,
    pnl: Context.get(context, Portfolio).pnl,
    breaker: Option.match(Context.getOption(context, BreakerState), {
      onNone: () => Effect.succeed(undefined),
      onSome: (state) => state.snapshot
    })
  }) satisfies Effect.Effect<Snapshot>
