import type * as FileSystem from "@effect/platform/FileSystem"
import { Chunk, Effect, Layer, Option, type Scope, Sink, Stream } from "effect"
import { type BusEvent, defaultQueue, type QueueName } from "../../../domain/BusEvent.js"
import type { Candle } from "../../../domain/Candle.js"
import * as CandleFile from "../../market/CandleFile.js"
import * as CandleFileStream from "../../market/CandleFileStream.js"
import { type BusStats, EventBus } from "../../../services/EventBus.js"

/** A backtest's input and its bus's bookkeeping. */

/** What a backtest published, by lane: the data queue's, and the signal and order queues' together. */
export interface PublishCounter {
  data: number
  pipeline: number
}

/** Counts what is published through the bus, so that a backtest can tell when everything published is handled. */
export const countingBus = (counter: PublishCounter) =>
  Layer.effect(
    EventBus,
    Effect.map(EventBus, (bus) => {
      const count = (n: number, toData: boolean) =>
        Effect.sync(() => {
          if (toData) counter.data += n
          else counter.pipeline += n
        })
      const { publishNow, ...rest } = bus
      return EventBus.of({
        ...rest,
        // counted before the event is in, as `publish` does; a publish that fails is taken back
        ...(publishNow === undefined ? {} : { publishNow: (event: BusEvent, queue?: QueueName) => {
          const toData = (queue ?? defaultQueue[event.type]) === "data"
          if (toData) counter.data++
          else counter.pipeline++
          const unfinished = publishNow(event, queue)
          return unfinished === undefined ? undefined : Effect.onError(unfinished, () => count(-1, toData))
        } }),
        publish: (event, queue) => {
          const toData = (queue ?? defaultQueue[event.type]) === "data"
          return Effect.zipRight(count(1, toData), bus.publish(event, queue).pipe(Effect.onError(() => count(-1, toData))))
        },
        publishAll: (events, queue) => {
          const all = Array.from(events)
          let data = 0
          for (const e of all) if ((queue ?? defaultQueue[e.type]) === "data") data++
          const pipeline = all.length - data
          const add = (sign: number) => Effect.zipRight(count(sign * data, true), count(sign * pipeline, false))
          // a failure part way leaves some published: count what reached the queues
          return Effect.zipRight(add(1), bus.publishAll(all, queue).pipe(Effect.onError(() => add(-1))))
        }
      })
    })
  )

export const processedOf = (stats: BusStats) => stats.data.processed + stats.signal.processed + stats.order.processed

export interface CandleInput {
  readonly candles: string | Stream.Stream<Candle, unknown> | ReadonlyArray<Candle>
  readonly symbol?: string
  readonly interval?: string
  readonly strict?: boolean
}

/**
 * The candles of a file, a stream or an array with their series, read once: a Binance CSV file is read as
 * the backtest goes (see `CandleFileStream`), so a year of 1m candles is never in memory at once. A stream's
 * or an array's first candle gives the series its symbol and interval unless they are given; a stream's
 * failure and an empty stream or array are a `CandleFileError`.
 */
export const seriesOf = (
  options: CandleInput
): Effect.Effect<CandleFileStream.CandleSeries, CandleFile.CandleFileError, FileSystem.FileSystem | Scope.Scope> => {
  const { candles } = options
  if (typeof candles === "string") {
    return CandleFileStream.open({
      path: candles,
      ...(options.symbol !== undefined ? { symbol: options.symbol } : {}),
      ...(options.interval !== undefined ? { interval: options.interval } : {}),
      ...(options.strict === true ? { strict: true } : {})
    })
  }
  const fail = (reason: string) => new CandleFile.CandleFileError({ path: "stream", option: "candles", reason })
  if (Array.isArray(candles)) {
    const array: ReadonlyArray<Candle> = candles
    const first = array[0]
    if (first === undefined) {
      return Effect.fail(new CandleFile.CandleFileError({ path: "array", option: "candles", reason: "no candles in the array" }))
    }
    return Effect.succeed(CandleFileStream.ofContent({
      path: "array",
      format: "json",
      symbol: options.symbol ?? first.symbol,
      interval: options.interval ?? first.interval,
      candles: array,
      malformed: []
    }))
  }
  const stream = candles as Stream.Stream<Candle, unknown>
  const failed = (cause: unknown) => fail(`the stream failed: ${cause instanceof Error ? cause.message : String(cause)}`)
  return Stream.peel(stream, Sink.head()).pipe(
    Effect.mapError(failed),
    Effect.flatMap(([head, rest]) =>
      Option.match(head, {
        onNone: () => Effect.fail(fail("the stream gave no candle")),
        onSome: (first) => {
          const all = Stream.concat(Stream.succeed(first), rest).pipe(Stream.mapError(failed))
          return Effect.succeed<CandleFileStream.CandleSeries>({
            path: "stream",
            format: "json",
            symbol: options.symbol ?? first.symbol,
            interval: options.interval ?? first.interval,
            candles: all,
            forEachBatch: (f) => Stream.runForEachChunk(all, (chunk) => f(Chunk.toReadonlyArray(chunk))),
            malformed: []
          })
        }
      })
    )
  )
}

