/**
 * The engine for applications without Effect: `runEngine` runs `Engine.layer`'s engine until its `duration`
 * or until `signal` aborts, then drains it and resolves with its summary. A strategy is a plain object whose
 * `analyze` may be async, or the reference SMA crossover by its parameters.
 */
import { Effect, Layer, Option } from "effect"
import type { Candle } from "../domain/Candle.js"
import { formatDecimal } from "../domain/Decimal.js"
import type { Signal, SignalDirection } from "../domain/Signal.js"
import { StrategyError } from "../domain/TradingErrors.js"
import * as Engine from "../layers/engine/Engine.js"
import * as SmaCrossoverStrategy from "../layers/trading/SmaCrossoverStrategy.js"
import { Strategy } from "../services/Strategy.js"
import { settle } from "./errors.js"

/** What a plain strategy decides on a candle: a direction, and optionally why and at which price (the close). */
export interface PlainDecision {
  readonly direction: SignalDirection
  readonly reason?: string
  readonly price?: number
}

/** A strategy as a plain object: called once per closed candle, in time order per symbol. */
export interface PlainStrategy {
  readonly name: string
  /** `position`: the net position in the candle's symbol, an exact decimal string ("0" when flat). */
  readonly analyze: (
    candle: Candle,
    context: { readonly position: string }
  ) => PlainDecision | undefined | null | Promise<PlainDecision | undefined | null>
}

export type RunEngineStrategy =
  | PlainStrategy
  /** The reference SMA crossover. */
  | { readonly sma: { readonly fast: number; readonly slow: number } }
  /** No signals: a data-only run. */
  | "none"

export interface RunEngineOptions extends Omit<Engine.EngineOptions, "strategy" | "source" | "plugins"> {
  /** The embedded simulator by default. */
  readonly source?: Exclude<Engine.EngineSource, Layer.Layer<any, any, any>> // any: every Layer is excluded
  readonly strategy: RunEngineStrategy
}

const isPlain = (strategy: RunEngineStrategy): strategy is PlainStrategy =>
  typeof strategy === "object" && "analyze" in strategy && typeof strategy.analyze === "function"

const plainStrategy = (plain: PlainStrategy): Layer.Layer<Strategy> =>
  Layer.succeed(Strategy, {
    name: plain.name,
    analyze: (candle, context) =>
      Effect.tryPromise({
        try: async () => plain.analyze(candle, { position: formatDecimal(context.position) }),
        catch: (cause) =>
          new StrategyError({
            strategy: plain.name,
            symbol: candle.symbol,
            message: cause instanceof Error ? cause.message : String(cause),
            cause
          })
      }).pipe(Effect.map((decision): Option.Option<Signal> =>
        decision === undefined || decision === null ? Option.none() : Option.some({
          symbol: candle.symbol,
          direction: decision.direction,
          price: decision.price ?? candle.close,
          strategy: plain.name,
          reason: decision.reason ?? "",
          timestamp: candle.closeTime
        })
      ))
  })

const strategyLayer = (strategy: RunEngineStrategy): Layer.Layer<Strategy> =>
  strategy === "none"
    ? Strategy.none
    : isPlain(strategy)
    ? plainStrategy(strategy)
    : Layer.orDie(SmaCrossoverStrategy.layer(strategy.sma))

/**
 * Runs the engine and resolves with its `RunSummary` once it stopped: at `options.duration`, or when `signal`
 * aborts (the engine then stops its source and drains as on Ctrl-C; the summary still arrives). Rejects with
 * the engine's start-up error (an Error carrying its `_tag`) when it cannot start.
 */
export const runEngine = async (
  options: RunEngineOptions,
  { signal }: { readonly signal?: AbortSignal } = {}
): Promise<Engine.RunSummary> => {
  let summary: Engine.RunSummary | undefined
  const run = Engine.runWith({
    ...options,
    source: options.source ?? { _tag: "Simulator" },
    strategy: strategyLayer(options.strategy)
  }, { onEnd: (end) => Effect.sync(() => void (summary = end.summary)) })
  const exit = await Effect.runPromiseExit(run, signal === undefined ? undefined : { signal })
  // an abort is how a caller stops a live engine: once drained, it ended normally
  if (exit._tag === "Failure" && signal?.aborted === true && summary !== undefined) return summary
  return settle(exit, signal).summary
}
