/**
 * One row of the backtest bench in a process of its own: `node --import tsx bench/backtestRow.ts ROW FILE WARM_FILE`
 * runs the row once on WARM_FILE (the JIT's warm-up), then on FILE timed, and prints
 * `{ candles, seconds, signals? }` as JSON. A process per row keeps the rows from shaping each other's compiled
 * code (in one process the engine ran some 10-30% slower after the other rows than alone).
 */
import { backtestSma, busPublishAll, parseOnly, plainLoop } from "./backtestScenarios.js"

const rows: Record<string, (file: string) => Promise<{ readonly candles: number; readonly signals?: number }>> = {
  "plain loop": async (f) => {
    const r = await plainLoop(f)
    return { candles: r.candles, signals: r.crossings }
  },
  "parse only": parseOnly,
  "bus publishAll": busPublishAll,
  "Backtest.run": backtestSma
}

const [name, file, warmFile] = process.argv.slice(2)
const run = name === undefined ? undefined : rows[name]
if (run === undefined || file === undefined || warmFile === undefined) {
  throw new Error(`usage: backtestRow.ts "${Object.keys(rows).join("\" | \"")}" FILE WARM_FILE`)
}
await run(warmFile)
const started = performance.now()
const result = await run(file)
const seconds = (performance.now() - started) / 1000
process.stdout.write(`${JSON.stringify({ candles: result.candles, seconds, signals: result.signals })}\n`)
