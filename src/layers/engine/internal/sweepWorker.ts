/**
 * The entry of a sweep's worker thread: it reads the candle file and loads the strategy once (the pool's
 * initial message), then runs one combination per request through `Backtest.run`, each with a fresh engine.
 */
import * as WorkerRunner from "@effect/platform/WorkerRunner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import { Context, Effect, Either, Layer, Logger } from "effect"
import { pathToFileURL } from "node:url"
import type { Candle } from "../../../domain/Candle.js"
import type * as CandleFile from "../../market/CandleFile.js"
import * as CandleFileStream from "../../market/CandleFileStream.js"
import * as SmaCrossoverStrategy from "../../trading/SmaCrossoverStrategy.js"
import { Strategy } from "../../../services/Strategy.js"
import * as Backtest from "../Backtest.js"
import { CombinationFailed, type InitialMessage, type Params, SweepRequest } from "./sweepProtocol.js"

/** What the initial message set up: the candles, read once, and how to make the strategy of a combination. */
class SweepInput extends Context.Tag("trading-bus/SweepInput")<SweepInput, {
  readonly init: InitialMessage
  readonly content: CandleFile.CandleFileContent
  /** The strategy of a combination, or the reason it refuses the parameters; Left: the module did not load. */
  readonly strategyOf: Either.Either<(params: Params) => Effect.Effect<Layer.Layer<Strategy, unknown>, string>, string>
}>() {}

const messageOf = (cause: unknown) => cause instanceof Error ? cause.message : String(cause)

/** A module's default export: a Layer<Strategy>, or a function from the `--param` pairs (as text) to one. */
const moduleStrategy = (path: string) =>
  Effect.map(
    Effect.tryPromise({
      try: () => import(pathToFileURL(path).href) as Promise<{ readonly default?: unknown }>,
      catch: (cause) => `cannot load ${path}: ${messageOf(cause)}`
    }),
    (module) => (params: Params) =>
      Effect.gen(function*() {
        const exported = typeof module.default === "function" && !Layer.isLayer(module.default)
          ? yield* Effect.try({
            try: () =>
              (module.default as (p: Record<string, string>) => unknown)(
                Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]))
              ),
            catch: messageOf
          })
          : module.default
        if (!Layer.isLayer(exported)) return yield* Effect.fail(`the default export of ${path} is not a Layer<Strategy>`)
        // a module's layer is typed only at run time
        return exported as Layer.Layer<Strategy, unknown>
      })
  )

const strategyMaker = (strategy: string) =>
  strategy === "none"
    ? Effect.succeed((_: Params) => Effect.succeed<Layer.Layer<Strategy, unknown>>(Strategy.none))
    : strategy === "sma"
    ? Effect.succeed((params: Params) =>
      Effect.succeed<Layer.Layer<Strategy, unknown>>(
        SmaCrossoverStrategy.layer({ fast: Number(params.fast ?? 9), slow: Number(params.slow ?? 21) })
      )
    )
    : moduleStrategy(strategy)

const setUp = (init: InitialMessage) =>
  Layer.effect(
    SweepInput,
    Effect.gen(function*() {
      // read as `Backtest.run` reads a file (a CSV's rows straight from the bytes), kept for every combination
      const series = yield* CandleFileStream.open({
        path: init.candles,
        ...(init.symbol !== undefined ? { symbol: init.symbol } : {}),
        ...(init.interval !== undefined ? { interval: init.interval } : {}),
        strict: init.strict
      })
      const candles: Array<Candle> = []
      yield* series.forEachBatch((batch) =>
        Effect.sync(() => {
          for (const candle of batch) candles.push(candle)
        })
      )
      const content: CandleFile.CandleFileContent = { ...series, candles }
      const strategyOf = yield* Effect.either(strategyMaker(init.strategy))
      return { init, content, strategyOf }
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer), Effect.orDie)
  )

const failed = (error: unknown) => {
  const e = (typeof error === "object" && error !== null ? error : {}) as {
    readonly _tag?: string
    readonly setting?: string
    readonly option?: string
    readonly value?: unknown
    readonly reason?: string
  }
  const setting = e.setting ?? e.option
  return new CombinationFailed({
    tag: e._tag ?? "Error",
    reason: e.reason ?? messageOf(error),
    ...(setting !== undefined ? { setting } : {}),
    ...(e.value !== undefined ? { value: String(e.value) } : {})
  })
}

const runCombination = (params: Params) =>
  Effect.gen(function*() {
    const { content, init, strategyOf: maker } = yield* SweepInput
    if (Either.isLeft(maker)) {
      return yield* new CombinationFailed({ tag: "StrategyModuleError", setting: "strategy", value: init.strategy, reason: maker.left })
    }
    const strategyOf = maker.right
    return yield* Effect.scoped(Effect.gen(function*() {
      const layer = yield* Effect.either(strategyOf(params))
      if (layer._tag === "Left") return { _tag: "Skipped" as const, reason: layer.left }
      // a strategy that refuses the parameters fails to build: the combination is skipped, not the sweep
      const built = yield* Effect.either(Layer.build(layer.right))
      if (built._tag === "Left") return { _tag: "Skipped" as const, reason: messageOf(built.left) }
      const { _tag: _, ...options } = init
      const report = yield* Backtest.run({
        ...options,
        candles: content.candles,
        symbol: content.symbol,
        interval: content.interval,
        strategy: Layer.succeedContext(built.right)
      }).pipe(Effect.mapError(failed))
      // the candles came as an array: the report names the file and its skipped rows as a run on the file does
      return { _tag: "Ran" as const, report: { ...report, file: content.path, malformed: content.malformed.length } }
    }))
  })

const WorkerLive = WorkerRunner.layerSerialized(SweepRequest, {
  InitialMessage: setUp,
  RunCombination: ({ params }) => runCombination(params)
}).pipe(Layer.provide(NodeWorkerRunner.layer))

// the engine's log lines would reach the parent's stdout: a sweep reports through its results instead
Effect.runFork(WorkerRunner.launch(WorkerLive).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))
