import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Layer, Logger } from "effect"
import { open } from "node:fs/promises"
import { compiled } from "./compiled.js"

// the compiled package, as its users run it (see compiled.ts)
const { makeEventAt } = await compiled<typeof import("../src/domain/BusEvent.js")>("domain/BusEvent.js")
const Backtest = await compiled<typeof import("../src/layers/engine/Backtest.js")>("layers/engine/Backtest.js")
const MemoryEventBus = await compiled<typeof import("../src/layers/bus/MemoryEventBus.js")>("layers/bus/MemoryEventBus.js")
const CandleFileStream = await compiled<typeof import("../src/layers/market/CandleFileStream.js")>("layers/market/CandleFileStream.js")
const SmaCrossoverStrategy = await compiled<typeof import("../src/layers/trading/SmaCrossoverStrategy.js")>(
  "layers/trading/SmaCrossoverStrategy.js"
)
const { EventBus } = await compiled<typeof import("../src/services/EventBus.js")>("services/EventBus.js")

/** The backtest benchmark's scenarios: each reads the same candle file and returns what it counted. */

const quiet = Effect.provide(Logger.remove(Logger.defaultLogger))

/**
 * The floor for SMA 9/21 in JavaScript: the file read a mebibyte at a time, each line's close parsed, both
 * averages summed oldest to newest over their windows (as trading-signals does, so that the same doubles
 * compare alike: running sums drift by an ulp and split near-ties differently), and every change of side
 * counted with the strategy's rule (above, below or equal; the first reading sets the side). No events, no
 * orders, no exact money.
 */
export const plainLoop = async (file: string, fast = 9, slow = 21) => {
  const handle = await open(file)
  const buffer = Buffer.alloc(1024 * 1024)
  const closes = new Float64Array(slow)
  let [carry, count, crossings, previous] = ["", 0, 0, Number.NaN]
  const average = (n: number) => {
    let sum = 0
    for (let i = count - n; i < count; i++) sum += closes[i % slow]!
    return sum / n
  }
  const onClose = (close: number) => {
    closes[count % slow] = close
    count++
    if (count < slow) return
    const side = Math.sign(average(fast) - average(slow))
    if (!Number.isNaN(previous) && side !== previous) crossings++
    previous = side
  }
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
    if (bytesRead === 0) break
    const text = carry + buffer.toString("utf8", 0, bytesRead)
    let start = 0
    for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", start)) {
      // the close is the fifth field of Binance's kline CSV
      let field = start
      for (let i = 0; i < 4; i++) field = text.indexOf(",", field) + 1
      onClose(Number(text.slice(field, text.indexOf(",", field))))
      start = end + 1
    }
    carry = text.slice(start)
  }
  await handle.close()
  return { candles: count, crossings }
}

/** The candle file parsed and checked as a backtest reads it (`CandleFileStream`'s batches), and nothing else. */
export const parseOnly = (file: string) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const series = yield* CandleFileStream.open({ path: file })
    let candles = 0
    yield* series.forEachBatch((batch) => Effect.sync(() => void (candles += batch.length)))
    return { candles }
  })).pipe(Effect.provide(NodeFileSystem.layer), quiet))

/**
 * The bus alone: the same candles, parsed as above, published as CandleClosed events with `publishAll` in
 * batches of 256 to one subscriber that returns `Effect.void`. They go through the order queue, which
 * waits for room, so that a fast publisher loses none and nothing polls for room.
 */
export const busPublishAll = (file: string) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const bus = yield* EventBus
    let handled = 0
    yield* bus.subscribe("CandleClosed", () => {
      handled++
      return Effect.void
    })
    const series = yield* CandleFileStream.open({ path: file })
    let published = 0
    // in batches of 256 as a backtest cuts the reads
    yield* series.forEachBatch((candles) =>
      Effect.gen(function*() {
        for (let from = 0; from < candles.length; from += 256) {
          const batch = candles.slice(from, from + 256)
          published += batch.length
          yield* bus.publishAll(batch.map((c) => makeEventAt("CandleClosed", c, c.closeTime, { source: "bench" })), "order")
        }
      })
    )
    while (handled < published) yield* Effect.yieldNow()
    return { candles: handled }
  })).pipe(Effect.provide(Layer.merge(MemoryEventBus.layer({ orderCapacity: 1024 }), NodeFileSystem.layer)), quiet))

/** The real thing: `Backtest.run` of SMA 9/21 over the file, in lockstep (the default). */
export const backtestSma = (file: string) =>
  Effect.runPromise(Backtest.run({
    candles: file,
    strategy: Layer.orDie(SmaCrossoverStrategy.layer({ fast: 9, slow: 21 }))
  }).pipe(quiet))
