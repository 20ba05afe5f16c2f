import { Effect, Layer } from "effect"
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import * as SmaCrossoverStrategy from "../layers/trading/SmaCrossoverStrategy.js"
import { Strategy } from "../services/Strategy.js"
import { asConfigurationError, ConfigurationError } from "./ConfigurationError.js"

/** `--strategy` and what goes with it: `--fast`/`--slow` for sma, `--param key=value` for a module. */
export interface StrategyFlags {
  readonly strategy: string
  readonly fast: number
  readonly slow: number
  readonly params?: Readonly<Record<string, string>>
}

const refuse = (value: string, reason: string) => new ConfigurationError({ flag: "--strategy", value, reason })

const accepted = "expected sma, none, or the path of a module whose default export is a Layer<Strategy> or a function from --param key=value pairs to one"

/**
 * The strategy layer `--strategy` names. The SMA's settings are checked here (its layer is built once, so a
 * bad `--fast` is a configuration error before the engine starts); a module is loaded with `import()`.
 */
export const resolveStrategy = (flags: StrategyFlags): Effect.Effect<Layer.Layer<Strategy>, ConfigurationError> => {
  if (flags.strategy === "none") return Effect.succeed(Strategy.none)
  if (flags.strategy === "sma") {
    return Effect.scoped(Layer.build(SmaCrossoverStrategy.layer({ fast: flags.fast, slow: flags.slow }))).pipe(
      Effect.map(Layer.succeedContext),
      Effect.mapError((e) => asConfigurationError(e) ?? refuse(flags.strategy, e.message))
    )
  }
  return Effect.gen(function*() {
    const path = resolve(flags.strategy)
    if (!existsSync(path)) return yield* refuse(flags.strategy, `there is no such file (${path}): ${accepted}`)
    const module = yield* Effect.tryPromise({
      // the module's own top-level code runs here: an exception in it is the user's to fix
      try: () => import(pathToFileURL(path).href) as Promise<{ readonly default?: unknown }>,
      catch: (cause) => refuse(flags.strategy, `cannot load it (${cause instanceof Error ? cause.message : String(cause)}): ${accepted}`)
    })
    const exported = typeof module.default === "function" && !Layer.isLayer(module.default)
      ? yield* Effect.try({
        try: () => (module.default as (params: Record<string, string>) => unknown)({ ...flags.params }),
        catch: (cause) => refuse(flags.strategy, `its default export failed: ${cause instanceof Error ? cause.message : String(cause)}`)
      })
      : module.default
    if (!Layer.isLayer(exported)) return yield* refuse(flags.strategy, `its default export is not a Layer<Strategy>: ${accepted}`)
    // a module's layer is typed only at run time: a failure to build is a defect of the module
    return Layer.orDie(exported as Layer.Layer<Strategy, unknown>)
  })
}
