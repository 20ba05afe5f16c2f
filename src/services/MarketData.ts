import { Context, type Effect } from "effect"

/** What a market-data source has seen since it started. */
export interface CollectorStats {
  /** Frames received (every frame, well-formed or not). */
  readonly messages: number
  /** Frames that were not JSON, did not match the schema, or named an unknown stream. */
  readonly malformed: number
  readonly reconnects: number
  /** Closed candles recovered over REST after a reconnect. */
  readonly backfilled: number
  /** Well-formed frames of streams the source does not handle (aggTrade, depth, ...); absent: none. */
  readonly ignored?: number
  /** Connection attempts that never opened; absent for a source without connections. */
  readonly connectionFailures?: number
  /** Gaps given up on: closed candles never delivered (each also an `Error` event); absent: none. */
  readonly gaps?: number
  /** CandleClosed events published. */
  readonly candles: number
  readonly connected: boolean
}

/**
 * A source of candles. Its layer runs for as long as its scope is open and
 * publishes `CandleClosed` (and, when enabled, `CandleUpdate`) on the bus;
 * closing the scope stops it before the bus drains.
 */
export class MarketData extends Context.Tag("trading-bus/MarketData")<MarketData, {
  /** The source's name in logs, events (`source`) and metrics, such as "binance". */
  readonly name: string
  readonly stats: Effect.Effect<CollectorStats>
}>() {}
