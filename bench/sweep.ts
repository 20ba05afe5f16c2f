/**
 * A parameter sweep on every core against the same grid run one combination after another in one thread.
 * Standalone: `node --import tsx bench/sweep.ts`; `measureSweep()` returns the rows for another report.
 */
import { Effect, Layer, Logger } from "effect"
import { availableParallelism } from "node:os"
import { pathToFileURL } from "node:url"
import * as Backtest from "../src/layers/engine/Backtest.js"
import { combinationsOf } from "../src/layers/engine/internal/sweepGrid.js"
import * as Sweep from "../src/layers/engine/Sweep.js"
import * as SmaCrossoverStrategy from "../src/layers/trading/SmaCrossoverStrategy.js"

export interface SweepBenchRow {
  readonly name: string
  readonly combinations: number
  readonly workers: number
  readonly ms: number
  /** CPU time of the process over the run (every thread): above `ms`, it used more than one core. */
  readonly cpuMs: number
  readonly speedup: number
}

const candles = "test/fixtures/binance/ADABTC-1m-2021-11-27.csv"
const trading = { quoteAmount: "0.01", maxPositionNotional: "0.05", capital: "1" }
const grid = { fast: [5, 10, 15, 20], slow: [20, 25, 30, 35, 40, 45, 50, 55, 60] }

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const started = performance.now()
    const cpu = process.cpuUsage()
    yield* effect
    const used = process.cpuUsage(cpu)
    return { ms: Math.round(performance.now() - started), cpuMs: Math.round((used.user + used.system) / 1000) }
  })

/** The grid (fast 5:20:5 × slow 20:60:5, SMA on 1440 ADABTC 1m candles) one after another, then on every core. */
export const measureSweep = (): Promise<ReadonlyArray<SweepBenchRow>> =>
  Effect.runPromise(Effect.gen(function*() {
    const runnable = combinationsOf(grid).filter((c) => Number(c.fast) < Number(c.slow))
    const sequential = yield* timed(Effect.forEach(runnable, (c) =>
      Backtest.run({ candles, ...trading, strategy: Layer.orDie(SmaCrossoverStrategy.layer({ fast: Number(c.fast), slow: Number(c.slow) })) })))
    const workers = availableParallelism()
    const parallel = yield* timed(Sweep.run({ candles, strategy: "sma", grid, ...trading }))
    return [
      { name: "one after another (Backtest.run)", combinations: runnable.length, workers: 1, ...sequential, speedup: 1 },
      { name: "Sweep.run on worker threads", combinations: runnable.length, workers, ...parallel, speedup: Number((sequential.ms / parallel.ms).toFixed(2)) }
    ]
  }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const row of await measureSweep()) {
    process.stdout.write(`${row.name.padEnd(36)} ${row.combinations} combinations, ${row.workers} threads: ${row.ms} ms, CPU ${row.cpuMs} ms (${row.speedup}x)\n`)
  }
}
