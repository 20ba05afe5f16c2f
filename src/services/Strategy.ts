import { BigDecimal, Context, Effect, Layer, Option } from "effect"
import type { Candle } from "../domain/Candle.js"
import type { Position } from "../domain/Position.js"
import type { Signal } from "../domain/Signal.js"
import type { StrategyError } from "../domain/TradingErrors.js"

/** What a strategy knows besides the candle when it decides. */
export interface StrategyContext {
  /** Its net position in the candle's symbol, in the base asset: positive long, negative short, 0 when flat. */
  readonly position: BigDecimal.BigDecimal
  /** The whole position (average entry, P&L) when there is one. */
  readonly details: Position | undefined
}

export interface StrategyShape {
  /** Names its signals (`Signal.strategy`) and its log lines. */
  readonly name: string
  /**
   * Called once per closed candle, in time order per symbol. Keeps its own state per symbol. One that decides
   * when called and returns a completed Effect (`Effect.succeed`, `Effect.fail`) spares the engine a fiber step
   * per candle; a lazy Effect works too.
   */
  readonly analyze: (candle: Candle, context: StrategyContext) => Effect.Effect<Option.Option<Signal>, StrategyError>
}

const flat: StrategyContext = { position: BigDecimal.fromBigInt(0n), details: undefined }

/** Turns closed candles into signals. */
export class Strategy extends Context.Tag("trading-bus/Strategy")<Strategy, StrategyShape>() {
  /** The context of a strategy with no position: for tests and tools that call `analyze` directly. */
  static readonly flat: StrategyContext = flat
  /** A strategy that never signals: a data-only run (`--strategy none`). */
  static readonly none: Layer.Layer<Strategy> = Layer.succeed(Strategy, {
    name: "none",
    analyze: () => Effect.succeed(Option.none())
  })
}
