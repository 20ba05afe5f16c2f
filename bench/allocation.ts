/**
 * Heap allocated per event delivered, metrics off and on: `publishAll` on the
 * order queue and a no-op handler. Run as its own process (`allocationPerEvent`
 * starts it) with a young generation large enough that no garbage collection
 * happens during a run, so that the heap's growth is what the run allocated;
 * two run lengths, so that what a run allocates once (the bus, its fibers)
 * cancels out.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { GCProfiler, getHeapStatistics } from "node:v8"
import { Effect } from "effect"
import { gc } from "./harness.js"
import { busThroughput, makeEvents, typeOf } from "./scenarios.js"

/** Megabytes of young generation: 256 MB holds every allocation of the longer run. */
const youngMegabytes = 256

export interface Allocation {
  /** Bytes per event, metrics off and on. */
  readonly off: number
  readonly on: number
}

/** Bytes one run of `n` events allocates, or `undefined` when a collection ran during it. */
const allocated = async (n: number, metrics: boolean): Promise<number | undefined> => {
  const events = makeEvents(typeOf.order, n)
  gc()
  const profiler = new GCProfiler()
  const before = getHeapStatistics().used_heap_size
  profiler.start()
  await Effect.runPromise(busThroughput([["order", events]], "publishAll", { orderCapacity: 1024, metrics }))
  const after = getHeapStatistics().used_heap_size
  const collections = profiler.stop()?.statistics.length ?? 0
  return collections === 0 ? after - before : undefined
}

const measure = async (): Promise<Allocation> => {
  const perEvent = async (metrics: boolean) => {
    for (let i = 0; i < 3; i++) await allocated(20_000, metrics) // warm up
    const samples: Array<number> = []
    for (let i = 0; i < 5; i++) {
      const small = await allocated(20_000, metrics)
      const large = await allocated(120_000, metrics)
      if (small !== undefined && large !== undefined) samples.push((large - small) / 100_000)
    }
    samples.sort((a, b) => a - b)
    return samples[samples.length >> 1] ?? Number.NaN
  }
  return { off: await perEvent(false), on: await perEvent(true) }
}

/** Runs the measurement in a child process with the young generation it needs. */
export const allocationPerEvent = (): Allocation => {
  const out = execFileSync(process.execPath, [
    "--expose-gc",
    `--min-semi-space-size=${youngMegabytes}`,
    `--max-semi-space-size=${youngMegabytes}`,
    "--import",
    "tsx",
    fileURLToPath(import.meta.url),
    "--child"
  ], { encoding: "utf8" })
  return JSON.parse(out.trim().split("\n").at(-1)!) as Allocation
}

if (process.argv.includes("--child")) {
  measure().then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))
}
