/**
 * A parameter sweep on every core against the same grid run one combination after another in one thread.
 * Standalone, with the flag the CLI sets: `npm run build && node --no-allocation-site-pretenuring --import tsx
 * bench/sweep.ts [candles] [rounds]`; `measureSweep()` returns the rows for another report.
 */
import { Effect, Layer, Logger } from "effect"
import { availableParallelism } from "node:os"
import { pathToFileURL } from "node:url"
import { combinationsOf } from "../src/layers/engine/internal/sweepGrid.js"
import { compiled } from "./compiled.js"
import { syntheticCandleFile } from "./syntheticCandles.js"

// Both rows run the compiled package (see compiled.ts): from the sources, every worker thread would also register
// tsx's loader and compile the TypeScript again (some 4-5 s of CPU a thread here), which measures tsx, not the sweep.
const Backtest = await compiled<typeof import("../src/layers/engine/Backtest.js")>("layers/engine/Backtest.js")
const Sweep = await compiled<typeof import("../src/layers/engine/Sweep.js")>("layers/engine/Sweep.js")
const SmaCrossoverStrategy = await compiled<typeof import("../src/layers/trading/SmaCrossoverStrategy.js")>(
  "layers/trading/SmaCrossoverStrategy.js"
)

export interface SweepBenchRow {
  readonly name: string
  /** Candles a combination. */
  readonly candles: number
  readonly combinations: number
  readonly workers: number
  /** The median of the rounds. */
  readonly ms: number
  /** Each round's, in the order they ran. */
  readonly rounds: ReadonlyArray<number>
  /** CPU time of the process over the run (every thread; the median round's): above `ms`, it used more than one core. */
  readonly cpuMs: number
  /** The medians' ratio. */
  readonly speedup: number
}

const grid = { fast: [5, 10, 15, 20], slow: [20, 30, 40, 50, 60] }

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const started = performance.now()
    const cpu = process.cpuUsage()
    yield* effect
    const used = process.cpuUsage(cpu)
    return { ms: Math.round(performance.now() - started), cpuMs: Math.round((used.user + used.system) / 1000) }
  })

/** A year of 1m candles: what a sweep is for (the issue's own yardstick: a year of candles, a grid of parameters). */
export const yearOfMinutes = 365 * 24 * 60

/** The round with the median time. */
const medianRound = (runs: ReadonlyArray<{ readonly ms: number; readonly cpuMs: number }>) =>
  [...runs].sort((a, b) => a.ms - b.ms)[runs.length >> 1]!

/**
 * The grid fast 5:20:5 × slow 20:60:10 (SMA; the 19 combinations with fast < slow) over `candles` synthetic 1m
 * candles, one after another with `Backtest.run` in this thread and with `Sweep.run` on every core (the worker
 * threads' start-up included: some 0.7 s of module loading each, and the file read once in each), in `rounds`
 * interleaved rounds (every other one starting with the sweep): a 2-core machine shared with others runs two
 * threads at once some 20-40% slower in some minutes than in others.
 */
export const measureSweep = async (candles = yearOfMinutes, rounds = 1): Promise<ReadonlyArray<SweepBenchRow>> => {
  const file = await syntheticCandleFile(candles)
  return Effect.runPromise(Effect.gen(function*() {
    const runnable = combinationsOf(grid).filter((c) => Number(c.fast) < Number(c.slow))
    const workers = availableParallelism()
    const sequential = timed(Effect.forEach(runnable, (c) =>
      Backtest.run({ candles: file, strategy: Layer.orDie(SmaCrossoverStrategy.layer({ fast: Number(c.fast), slow: Number(c.slow) })) })))
    const parallel = timed(Sweep.run({ candles: file, strategy: "sma", grid }))
    const one: Array<{ ms: number; cpuMs: number }> = []
    const every: Array<{ ms: number; cpuMs: number }> = []
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 1) every.push(yield* parallel)
      one.push(yield* sequential)
      if (r % 2 === 0) every.push(yield* parallel)
    }
    const [seq, par] = [medianRound(one), medianRound(every)]
    const speedup = Number((seq.ms / par.ms).toFixed(2))
    const rows = { candles, combinations: runnable.length }
    return [
      { name: "one after another (Backtest.run)", ...rows, workers: 1, ...seq, rounds: one.map((x) => x.ms), speedup: 1 },
      { name: "Sweep.run on worker threads", ...rows, workers, ...par, rounds: every.map((x) => x.ms), speedup }
    ]
  }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [candles, rounds] = [process.argv[2], process.argv[3]].map((a) => a === undefined ? undefined : Number(a))
  for (const row of await measureSweep(candles, rounds)) {
    process.stdout.write(
      `${row.name.padEnd(36)} ${row.combinations} combinations, ${row.workers} threads: ${row.ms} ms (${row.rounds.join(", ")}), CPU ${row.cpuMs} ms (${row.speedup}x)\n`
    )
  }
}
