import { Context, type Effect, type Option } from "effect"
import type { Candle } from "../domain/Candle.js"
import type { Signal } from "../domain/Signal.js"
import type { StrategyError } from "../domain/TradingErrors.js"

/** Turns closed candles into signals. Keeps its own state per symbol. */
export class Strategy extends Context.Tag("trading-bus/Strategy")<Strategy, {
  readonly name: string
  readonly analyze: (candle: Candle) => Effect.Effect<Option.Option<Signal>, StrategyError>
}>() {}
