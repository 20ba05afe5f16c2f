import type { FileSystem } from "@effect/platform"
import { Chunk, Effect, Layer, Stream } from "effect"
import type { Candle } from "../../../domain/Candle.js"
import * as CandleFile from "../../market/CandleFile.js"
import { type BusStats, EventBus } from "../../../services/EventBus.js"

/** A backtest's input and its bus's bookkeeping. */

/** Counts what is published through the bus, so that a backtest can tell when everything published is handled. */
export const countingBus = (counter: { published: number }) =>
  Layer.effect(
    EventBus,
    Effect.map(EventBus, (bus) => {
      const count = (n: number) => Effect.sync(() => void (counter.published += n))
      return EventBus.of({
        ...bus,
        publish: (event, queue) =>
          Effect.zipRight(count(1), bus.publish(event, queue).pipe(Effect.onError(() => count(-1)))),
        publishAll: (events, queue) => {
          const all = Array.from(events)
          // a failure part way leaves some published: count what reached the queues
          return Effect.zipRight(count(all.length), bus.publishAll(all, queue).pipe(Effect.onError(() => count(-all.length))))
        }
      })
    })
  )

export const processedOf = (stats: BusStats) => stats.data.processed + stats.signal.processed + stats.order.processed

export interface CandleInput {
  readonly candles: string | Stream.Stream<Candle, unknown>
  readonly symbol?: string
  readonly interval?: string
  readonly strict?: boolean
}

/** The candles of a file or a stream, with their series; a stream's failure or emptiness is a `CandleFileError`. */
export const candlesOf = (options: CandleInput): Effect.Effect<CandleFile.CandleFileContent, CandleFile.CandleFileError, FileSystem.FileSystem> => {
  const { candles } = options
  if (typeof candles === "string") {
    return CandleFile.read({
      path: candles,
      ...(options.symbol !== undefined ? { symbol: options.symbol } : {}),
      ...(options.interval !== undefined ? { interval: options.interval } : {}),
      ...(options.strict === true ? { strict: true } : {})
    })
  }
  const fail = (reason: string) => new CandleFile.CandleFileError({ path: "stream", option: "candles", reason })
  return Stream.runCollect(candles).pipe(
    Effect.mapError((cause) => fail(`the stream failed: ${cause instanceof Error ? cause.message : String(cause)}`)),
    Effect.flatMap((chunk) => {
      const all = Chunk.toReadonlyArray(chunk)
      const first = all[0]
      if (first === undefined) return Effect.fail(fail("the stream gave no candle"))
      return Effect.succeed({
        path: "stream",
        format: "json" as const,
        symbol: options.symbol ?? first.symbol,
        interval: options.interval ?? first.interval,
        candles: all,
        malformed: []
      })
    })
  )
}

