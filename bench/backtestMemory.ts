/**
 * One backtest in a process of its own, for its peak memory: `node --import tsx bench/backtestMemory.ts FILE`
 * prints `{ candles, rssBeforeBytes, maxRssBytes, heapUsedBytes }` as JSON. Run by bench/backtest.ts.
 */
import { backtestSma } from "./backtestScenarios.js"

const file = process.argv[2]
if (file === undefined) throw new Error("usage: backtestMemory.ts CANDLE_FILE")
const rssBeforeBytes = process.memoryUsage().rss
const report = await backtestSma(file)
process.stdout.write(`${JSON.stringify({
  candles: report.candles,
  rssBeforeBytes,
  // resourceUsage gives kibibytes
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  heapUsedBytes: process.memoryUsage().heapUsed
})}\n`)
