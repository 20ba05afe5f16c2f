import { Context, type Effect } from "effect"

/** What the trading engine has seen on the bus since it started. */
export interface EngineCounters {
  /** CandleClosed events per symbol. */
  readonly candles: { readonly [symbol: string]: number }
  readonly signals: number
  readonly orders: number
  readonly fills: number
  readonly rejected: number
  readonly errors: number
}

/** The trading engine's counters, for a status line and the run's summary. */
export class EngineStats extends Context.Tag("trading-bus/EngineStats")<EngineStats, {
  /** A snapshot of the counters. */
  readonly snapshot: Effect.Effect<EngineCounters>
}>() {}
