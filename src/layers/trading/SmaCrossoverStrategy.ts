import { Data, Effect, Layer, Option } from "effect"
import { SMA } from "trading-signals"
import type { Candle } from "../../domain/Candle.js"
import type { Signal, SignalDirection } from "../../domain/Signal.js"
import { StrategyError } from "../../domain/TradingErrors.js"
import { Strategy } from "../../services/Strategy.js"
import { type SettingProblem, wholeNumber } from "../bus/internal/Options.js"

/** A strategy setting that cannot work; `setting` names it as the layer's options do. */
export class StrategyConfigError extends Data.TaggedError("StrategyConfigError")<SettingProblem & {
  readonly strategy: string
}> {
  override get message() {
    return `invalid ${this.strategy} strategy setting ${this.setting}=${String(this.value)}: ${this.reason}`
  }
}

export interface SmaCrossoverOptions {
  /** Period of the fast SMA, in candles. Default 9. */
  readonly fast?: number
  /** Period of the slow SMA, in candles; must be greater than `fast`. Default 21. */
  readonly slow?: number
}

export const strategyName = "sma"

/** Where the fast SMA stood against the slow one at the last stable candle. */
type Side = "above" | "below" | "equal"

interface SymbolState {
  readonly fast: SMA
  readonly slow: SMA
  /** Undefined until both SMAs are stable: the first stable candle only sets it, it is not a cross. */
  side: Side | undefined
}

const sideOf = (fast: number, slow: number): Side => fast > slow ? "above" : fast < slow ? "below" : "equal"

/**
 * An SMA at 8 decimals, as `String(Number(n.toFixed(8)))` writes it, without `toFixed` (some 0.5 us, twice a
 * signal) where it can: `n * 1e8` rounded is then the same integer of hundred-millionths, and that integer over
 * 1e8, both exact, divides to the same nearest double the text parses to. Near a half, or past 2^52, the product's
 * own rounding could move it across: those take `toFixed`.
 */
export const formatSma = (n: number): string => {
  const scaled = n * 1e8
  const fraction = scaled - Math.floor(scaled)
  return Math.abs(scaled) < 2 ** 52 && Math.abs(fraction - 0.5) > 1e-3
    ? String(Math.round(scaled) / 1e8)
    : String(Number(n.toFixed(8)))
}

const directionOf: { readonly [S in Side]: SignalDirection } = { above: "LONG", below: "SHORT", equal: "CLOSE" }
const verbOf: { readonly [S in Side]: string } = {
  above: "crossed above",
  below: "crossed below",
  equal: "met"
}

/**
 * The crossover decision, separate from the indicators so it is easy to read:
 * - fast moves above slow (from below or from equal): LONG;
 * - fast moves below slow (from above or from equal): SHORT;
 * - fast comes back to exactly equal slow after being above or below: CLOSE
 *   (the trend that opened the position is gone; the next departure opens again).
 * Staying on the same side emits nothing.
 */
export const crossover = (previous: Side | undefined, current: Side): SignalDirection | undefined =>
  previous === undefined || previous === current ? undefined : directionOf[current]

const make = (fastPeriod: number, slowPeriod: number) => {
  const states = new Map<string, SymbolState>()

  const stateOf = (symbol: string): SymbolState => {
    let state = states.get(symbol)
    if (state === undefined) {
      state = { fast: new SMA(fastPeriod), slow: new SMA(slowPeriod), side: undefined }
      states.set(symbol, state)
    }
    return state
  }

  const step = (candle: Candle): Option.Option<Signal> => {
    const state = stateOf(candle.symbol)
    const fast = state.fast.add(candle.close)
    const slow = state.slow.add(candle.close)
    if (fast === null || slow === null) return Option.none()
    const side = sideOf(fast, slow)
    const direction = crossover(state.side, side)
    state.side = side
    if (direction === undefined) return Option.none()
    return Option.some({
      symbol: candle.symbol,
      direction,
      price: candle.close,
      strategy: strategyName,
      reason: `SMA(${fastPeriod}) ${formatSma(fast)} ${verbOf[side]} SMA(${slowPeriod}) ${formatSma(slow)}`,
      timestamp: candle.closeTime
    })
  }

  return Strategy.of({
    name: strategyName,
    // decides when called and returns a completed Effect: the engine settles it without a fiber step
    analyze: (candle) => {
      if (!candle.isClosed) return Effect.succeedNone
      if (!Number.isFinite(candle.close)) {
        return Effect.fail(
          new StrategyError({
            strategy: strategyName,
            symbol: candle.symbol,
            message: `candle closing at ${candle.closeTime} has no finite close (${candle.close})`
          })
        )
      }
      try {
        const signal = step(candle)
        // most candles signal nothing: the shared completed none, not an Effect made per candle
        return Option.isNone(signal) ? Effect.succeedNone : Effect.succeed(signal)
      } catch (cause) {
        return Effect.fail(
          new StrategyError({
            strategy: strategyName,
            symbol: candle.symbol,
            message: `the SMA indicators failed on the candle closing at ${candle.closeTime}`,
            cause
          })
        )
      }
    }
  })
}

/** Checks the periods: both whole numbers >= 1, and `fast` < `slow`. */
export const resolveOptions = (
  options: SmaCrossoverOptions = {}
): Effect.Effect<{ readonly fast: number; readonly slow: number }, StrategyConfigError> => {
  const fast = options.fast ?? 9
  const slow = options.slow ?? 21
  return Effect.all({ fast: wholeNumber("fast", fast, 1), slow: wholeNumber("slow", slow, 2) }).pipe(
    Effect.filterOrFail(
      (c) => c.fast < c.slow,
      (): SettingProblem => ({ setting: "fast", value: fast, reason: `must be less than slow (${slow})` })
    ),
    Effect.mapError((p) => new StrategyConfigError({ ...p, strategy: strategyName }))
  )
}

/**
 * The SMA crossover strategy: one fast and one slow SMA of the closes per
 * symbol (created on the symbol's first candle), signalling on crosses (see
 * `crossover`). Candles that are not closed are ignored; the signal's price is
 * the close and its timestamp the candle's close time.
 */
export const layer = (options?: SmaCrossoverOptions): Layer.Layer<Strategy, StrategyConfigError> =>
  Layer.effect(Strategy, Effect.map(resolveOptions(options), (c) => make(c.fast, c.slow)))
