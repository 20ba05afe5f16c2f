import * as Worker from "@effect/platform/Worker"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import { Cause, Chunk, Clock, Data, Effect, Option } from "effect"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { availableParallelism } from "node:os"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import * as WorkerThreads from "node:worker_threads"
import { CandleFileError } from "../market/CandleFile.js"
import * as CandleFileStream from "../market/CandleFileStream.js"
import type { BacktestReport } from "./Backtest.js"
import type { FillModel } from "./BacktestFills.js"
import type { TradingOptions } from "./Trading.js"
import { combinationsOf, lowerIsBetter, type RankField, rankFields, rankOrder } from "./internal/sweepGrid.js"
import { InitialMessage, type ParamValue, RunCombination } from "./internal/sweepProtocol.js"

export { lowerIsBetter, parseRange, type RankField, rankFields } from "./internal/sweepGrid.js"
export type { ParamValue } from "./internal/sweepProtocol.js"

export interface SweepOptions extends Omit<TradingOptions, "brokerLatency"> {
  /** The candle file: each worker thread reads it once. */
  readonly candles: string
  /** "sma" (its grid parameters: `fast`, `slow`), "none", or the path of a strategy module (its `--param` pairs). */
  readonly strategy: string
  /** The values of each parameter: every combination runs. */
  readonly grid: Readonly<Record<string, ReadonlyArray<ParamValue>>>
  /** Parameters every combination shares (a grid value wins). */
  readonly params?: Readonly<Record<string, ParamValue>>
  /** Worker threads: the cores (`os.availableParallelism()`) by default, at most the combinations. */
  readonly workers?: number
  /** The report field to rank by, best first. Default "sharpe"; the drawdowns rank lowest first. */
  readonly rankBy?: RankField
  readonly symbol?: string
  readonly interval?: string
  readonly strict?: boolean
  readonly capital?: string | number
  readonly fill?: FillModel
  readonly lockstep?: boolean
  readonly chunkSize?: number
}

/** One combination that ran: its parameters, its rank (1 is the best) and its backtest report. */
export interface SweepResult {
  readonly rank: number
  readonly params: Readonly<Record<string, ParamValue>>
  readonly report: BacktestReport
}

export interface SweepReport {
  readonly file: string
  readonly strategy: string
  readonly grid: Readonly<Record<string, ReadonlyArray<ParamValue>>>
  readonly rankBy: RankField
  readonly lowerIsBetter: boolean
  readonly combinations: number
  readonly workers: number
  readonly elapsedMs: number
  /** Every combination that ran, best first. */
  readonly results: ReadonlyArray<SweepResult>
  /** The combinations the strategy refused (SMA: fast >= slow), in grid order, with its reason. */
  readonly skipped: ReadonlyArray<{ readonly params: Readonly<Record<string, ParamValue>>; readonly reason: string }>
}

/** A sweep setting that cannot work; `setting` names the option ("grid.fast", "rankBy", a trading option). */
export class SweepConfigError extends Data.TaggedError("SweepConfigError")<{
  readonly setting: string
  readonly value: unknown
  readonly reason: string
}> {
  override get message() {
    return `invalid sweep setting ${this.setting}=${String(this.value)}: ${this.reason}`
  }
}

/** A worker thread that could not start or run a combination. */
export class SweepWorkerError extends Data.TaggedError("SweepWorkerError")<{ readonly reason: string }> {
  override get message() {
    return `sweep: ${this.reason}`
  }
}

// Under tsx (tests, `npx tsx`) this file is a .ts and so is the worker's entry; installed, both are compiled .js.
const fromSources = import.meta.url.endsWith(".ts")
const workerEntry = new URL(`./internal/sweepWorker.${fromSources ? "ts" : "js"}`, import.meta.url)

/**
 * A worker thread on the entry. A .ts entry needs tsx's loader registered inside the thread first: Node 20
 * does not apply `--import tsx` from `execArgv` to a worker's entry module (ERR_UNKNOWN_FILE_EXTENSION).
 */
const spawn = (): WorkerThreads.Worker => {
  if (!fromSources) return new WorkerThreads.Worker(workerEntry)
  // tsx's ESM API (its `--import` entry skips worker threads); resolved here, the thread's eval resolves from the cwd
  const tsx = new URL("dist/esm/api/index.mjs", pathToFileURL(createRequire(import.meta.url).resolve("tsx/package.json"))).href
  return new WorkerThreads.Worker(
    `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerEntry.href)}) })`,
    { eval: true }
  )
}

const refuse = (setting: string, value: unknown, reason: string) => new SweepConfigError({ setting, value, reason })

const check = (options: SweepOptions) =>
  Effect.gen(function*() {
    const rankBy = options.rankBy ?? "sharpe"
    if (!rankFields.includes(rankBy)) return yield* refuse("rankBy", rankBy, `must be one of ${rankFields.join(", ")}`)
    const keys = Object.keys(options.grid)
    if (keys.length === 0) return yield* refuse("grid", "{}", "needs at least one parameter")
    for (const key of keys) {
      if (options.grid[key]!.length === 0) return yield* refuse(`grid.${key}`, "[]", "needs at least one value")
    }
    const workers = options.workers
    if (workers !== undefined && (!Number.isSafeInteger(workers) || workers < 1)) {
      return yield* refuse("workers", workers, "must be a whole number above 0")
    }
    return rankBy
  })

/**
 * Opens the file as a backtest does (a CSV's head read: its symbol and interval told) and, with `through`, reads
 * it through (its rows checked, none kept), so that a bad file is a `CandleFileError` as for a single backtest;
 * gives its path as the report names it.
 */
const checkFile = (options: SweepOptions, through: boolean) =>
  Effect.scoped(Effect.gen(function*() {
    const series = yield* CandleFileStream.open({
      path: options.candles,
      ...(options.symbol !== undefined ? { symbol: options.symbol } : {}),
      ...(options.interval !== undefined ? { interval: options.interval } : {}),
      ...(options.strict === true ? { strict: true } : {})
    })
    if (through) yield* series.forEachBatch(() => Effect.void)
    return series.path
  })).pipe(Effect.provide(NodeFileSystem.layer))

/**
 * A bad row fails the threads' reading (and the pool with them): the file's own error is the one to report, as
 * for a single backtest. Only then is the file read through here, to tell a bad file from another failure (the
 * threads read it meanwhile: a third reading beside theirs took a core from them at the start of every sweep).
 */
const fileErrorFirst = (options: SweepOptions) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAllCause(effect, (cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
    const fileError = Cause.failures(cause).pipe(Chunk.findFirst((e) => e instanceof CandleFileError))
    return Option.isSome(fileError) ? Effect.fail(fileError.value) : Effect.zipRight(checkFile(options, true), Effect.failCause(cause))
  })

/**
 * The order to run the combinations in (their indexes). SMA's shortest periods cross most often, so trade most
 * and take longest: they go first. A module strategy's costs are unknown: the grid's order.
 */
const longestFirst = (strategy: string, combos: ReadonlyArray<Readonly<Record<string, ParamValue>>>): Array<number> => {
  const order = combos.map((_, i) => i)
  if (strategy !== "sma") return order
  const periods = (c: Readonly<Record<string, ParamValue>>) => Number(c.fast ?? 9) + Number(c.slow ?? 21)
  return order.sort((a, b) => periods(combos[a]!) - periods(combos[b]!) || a - b)
}

/**
 * Runs every combination of `grid` as its own backtest, in parallel on worker threads (one engine per
 * combination, the candle file read once per thread), and returns every report ranked by `rankBy`. A result
 * equals `Backtest.run` of its combination, timing fields aside.
 */
export const run = (options: SweepOptions) =>
  Effect.gen(function*() {
    const rankBy = yield* check(options)
    const builtIn = options.strategy === "sma" || options.strategy === "none"
    const strategy = builtIn ? options.strategy : resolve(options.strategy)
    if (!builtIn && !existsSync(strategy)) return yield* refuse("strategy", options.strategy, `there is no such file (${strategy})`)
    const combos = combinationsOf(options.grid).map((c) => ({ ...options.params, ...c }))
    const workers = Math.min(options.workers ?? availableParallelism(), combos.length)
    const init = new InitialMessage({
      candles: options.candles,
      ...(options.symbol !== undefined ? { symbol: options.symbol } : {}),
      ...(options.interval !== undefined ? { interval: options.interval } : {}),
      strict: options.strict ?? false,
      strategy,
      fill: options.fill ?? "next-open",
      lockstep: options.lockstep ?? true,
      allowShort: options.allowShort ?? false,
      ...(options.capital !== undefined ? { capital: String(options.capital) } : {}),
      ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
      ...(options.quoteAmount !== undefined ? { quoteAmount: String(options.quoteAmount) } : {}),
      ...(options.maxPositionNotional !== undefined ? { maxPositionNotional: String(options.maxPositionNotional) } : {}),
      ...(options.maxOpenOrders !== undefined ? { maxOpenOrders: options.maxOpenOrders } : {}),
      ...(options.feeBps !== undefined ? { feeBps: options.feeBps } : {}),
      ...(options.slippageBps !== undefined ? { slippageBps: options.slippageBps } : {})
    })
    yield* Effect.logInfo(`sweep: ${combos.length} combinations of ${Object.keys(options.grid).join(", ")} on ${workers} worker threads`)
    const started = yield* Clock.currentTimeMillis
    // the threads start first: they load their modules (some 0.5 s of CPU each) and read the file while this one
    // opens it (a missing file, a name that tells no symbol fail here at once; a bad row fails the threads)
    const { outcomes, path } = yield* Effect.scoped(Effect.gen(function*() {
      const pool = yield* Worker.makePoolSerialized<InitialMessage | RunCombination>({ size: workers, concurrency: 1, initialMessage: () => init })
      // the longest first, so that no thread is left with a long one while the other has none
      const order = longestFirst(options.strategy, combos)
      const runs = Effect.forEach(order, (i) => pool.executeEffect(new RunCombination({ params: combos[i]! })), { concurrency: "unbounded" })
      const [path, ran] = yield* Effect.all([checkFile(options, false), runs], { concurrency: 2 })
      const outcomes = new Array<(typeof ran)[number]>(combos.length)
      order.forEach((combo, i) => outcomes[combo] = ran[i]!)
      return { outcomes, path }
    })).pipe(
      Effect.provide(NodeWorker.layer(spawn)),
      fileErrorFirst(options),
      Effect.catchTags({
        CombinationFailed: (e) =>
          e.setting !== undefined
            ? Effect.fail(new SweepConfigError({ setting: e.setting, value: e.value, reason: e.reason }))
            : Effect.fail(new SweepWorkerError({ reason: `${e.tag}: ${e.reason}` })),
        WorkerError: (e) => Effect.fail(new SweepWorkerError({ reason: e.message })),
        ParseError: (e) => Effect.fail(new SweepWorkerError({ reason: e.message }))
      })
    )
    const elapsedMs = (yield* Clock.currentTimeMillis) - started
    const ran = outcomes.flatMap((o, i) =>
      // the worker sent a BacktestReport's own fields, decoded as JSON values
      o._tag === "Ran" ? [{ params: combos[i]!, report: o.report as unknown as BacktestReport }] : []
    )
    const skipped = outcomes.flatMap((o, i) => o._tag === "Skipped" ? [{ params: combos[i]!, reason: o.reason }] : [])
    return {
      file: path,
      strategy: options.strategy,
      grid: options.grid,
      rankBy,
      lowerIsBetter: lowerIsBetter(rankBy),
      combinations: combos.length,
      workers,
      elapsedMs,
      results: rankOrder(ran, rankBy).map((r, i) => ({ rank: i + 1, ...r })),
      skipped
    } satisfies SweepReport
  })

/** Why a sweep could not run: its candles, a setting, or a worker thread. */
export type SweepError = Effect.Effect.Error<ReturnType<typeof run>>
