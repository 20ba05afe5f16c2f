import { Context, type Effect } from "effect"
import type { Decimal } from "../domain/Decimal.js"
import type { Fill } from "../domain/Order.js"
import type { Position } from "../domain/Position.js"

export interface PnL {
  readonly realized: Decimal
  readonly unrealized: Decimal
}

/** Positions, average entry, realized and unrealized P&L, in exact decimals. */
export class Portfolio extends Context.Tag("trading-bus/Portfolio")<Portfolio, {
  /** Applies a fill; returns the symbol's position after it. */
  readonly applyFill: (fill: Fill) => Effect.Effect<Position>
  /** Marks a symbol to a new price; returns its position when it has one. */
  readonly markToMarket: (symbol: string, price: Decimal, at: number) => Effect.Effect<Position | undefined>
  readonly position: (symbol: string) => Effect.Effect<Position | undefined>
  readonly positions: Effect.Effect<ReadonlyArray<Position>>
  readonly pnl: Effect.Effect<PnL>
  /**
   * Optional: the mark and the reads done synchronously, by an implementation that keeps its state in memory.
   * The engine's per-candle handlers (the strategy's context, the mark, the gauges, a backtest's curves) use
   * them when present, so that a candle is handled without a fiber step; each call runs to its end at once,
   * as the Effect forms do.
   */
  readonly unsafe?: {
    readonly markToMarket: (symbol: string, price: Decimal, at: number) => Position | undefined
    readonly position: (symbol: string) => Position | undefined
    readonly pnl: () => PnL
    /** `applyFill` done at once (the engine's portfolio step without a fiber step); optional. */
    readonly applyFill?: (fill: Fill) => Position
  }
}>() {}
