import { createWriteStream, existsSync, mkdirSync, renameSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * A seeded random walk of 1m candles written as Binance's 12-column kline CSV, so that benchmarks read a
 * file the way a user's backtest does. Written once per size to the system's temp folder and reused.
 */
export const syntheticCandleFile = async (candles: number, seed = 42): Promise<string> => {
  // the name gives the backtest its symbol and interval, as a Binance download's does
  const folder = join(tmpdir(), "trading-bus-bench")
  const path = join(folder, `BTCUSDT-1m-synthetic-${candles}-seed${seed}.csv`)
  if (existsSync(path)) return path
  mkdirSync(folder, { recursive: true })
  const partial = `${path}.partial`
  const out = createWriteStream(partial)
  let state = seed
  // a linear congruential generator: the same file on every machine
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
  let price = 30_000
  const start = Date.UTC(2024, 0, 1)
  let buffer: Array<string> = []
  for (let i = 0; i < candles; i++) {
    const open = price
    price = Math.max(1, price * (1 + (random() - 0.5) * 0.004))
    const [o, c] = [open.toFixed(2), price.toFixed(2)]
    const high = (Math.max(open, price) * (1 + random() * 0.0005)).toFixed(2)
    const low = (Math.min(open, price) * (1 - random() * 0.0005)).toFixed(2)
    const volume = (1 + random() * 10).toFixed(5)
    const openTime = start + i * 60_000
    buffer.push(`${openTime},${o},${high},${low},${c},${volume},${openTime + 59_999},${(Number(volume) * price).toFixed(2)},${1 + Math.floor(random() * 500)},0,0,0`)
    if (buffer.length === 10_000) {
      if (!out.write(`${buffer.join("\n")}\n`)) await new Promise<void>((resolve) => out.once("drain", () => resolve()))
      buffer = []
    }
  }
  await new Promise<void>((resolve, reject) => {
    out.on("error", reject)
    out.end(buffer.length > 0 ? `${buffer.join("\n")}\n` : "", () => resolve())
  })
  renameSync(partial, path)
  return path
}
