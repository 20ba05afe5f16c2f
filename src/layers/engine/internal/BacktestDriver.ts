/**
 * A backtest's driver: it publishes the candles of a series in batches, opens each candle for the orders held
 * for it, and (in lockstep) waits for the trading pipeline; it gathers what the report needs of the series.
 */
import { type Context, Effect, Layer } from "effect"
import { type BusEvent, makeEventAt } from "../../../domain/BusEvent.js"
import type { Candle } from "../../../domain/Candle.js"
import type { CandleSeries } from "../../market/CandleFileStream.js"
import { EventBus } from "../../../services/EventBus.js"
import type { makeBacktestFills } from "../BacktestFills.js"
import type { PipelineBarrier } from "../BacktestTracker.js"
import { makePricePrecision } from "../SymbolInfo.js"
import { processedOf, type PublishCounter } from "./BacktestInput.js"
import type { makeRoomGate } from "./Lockstep.js"

/** The `source` of the candles a backtest publishes. */
export const source = "backtest"

export interface Driver {
  readonly bus: Context.Tag.Service<EventBus>
  readonly fills: ReturnType<typeof makeBacktestFills>
  readonly counter: PublishCounter
}

/**
 * Waits until the bus has handled all that was published (an event's handlers publish what follows from it
 * before it counts as processed), the orders held for their next open aside: the pipeline is idle.
 */
const idle = (d: Driver) =>
  Effect.gen(function*() {
    while (d.counter.data + d.counter.pipeline > processedOf(yield* d.bus.stats) + d.fills.held()) yield* Effect.yieldNow()
  })

/** What the report needs of the series, gathered as the candles stream by. */
export const makeSeriesStats = () => {
  const precision = makePricePrecision()
  const stats = { count: 0, first: undefined as Candle | undefined, last: undefined as Candle | undefined }
  return {
    stats,
    precision,
    observe: (candles: ReadonlyArray<Candle>) => {
      if (candles.length === 0) return
      stats.first ??= candles[0]
      stats.last = candles[candles.length - 1]
      stats.count += candles.length
      for (const c of candles) precision.observe(c)
    }
  }
}

/**
 * Publishes every candle as a CandleClosed, in batches of at most `chunkSize` as the series reads them, once at most one
 * batch is still queued: the sliding data queue (4 batches) must drop none, and each candle adds at most one mark. A candle opens
 * as its CandleClosed is handled, before the engine sees it (the orders held for it fill at its open), and the
 * curves are sampled after the engine (see `makeTracker`). In lockstep both wait for the trading pipeline, so
 * the next candle is handled only once everything the previous one caused is; without, they do not wait. At
 * the end the orders still held are unfilled (without lockstep, those still waiting once the last candle opened).
 */
export const publishCandles = (
  d: Driver,
  input: CandleSeries,
  series: ReturnType<typeof makeSeriesStats>,
  room: ReturnType<typeof makeRoomGate>,
  chunkSize: number,
  lockstep: boolean
) =>
  Effect.gen(function*() {
    yield* input.forEachBatch((candles) =>
      Effect.gen(function*() {
        for (let from = 0; from < candles.length; from += chunkSize) {
          const batch = candles.slice(from, from + chunkSize)
          yield* room.await(series.stats.count, chunkSize)
          series.observe(batch)
          const events: Array<BusEvent> = batch.map((candle) => makeEventAt("CandleClosed", candle, candle.closeTime, { source }))
          yield* d.bus.publishAll(events)
        }
      }))
    // every candle handled; without lockstep an order may be queued behind a held one, so wait for the opens only
    yield* lockstep ? idle(d) : room.await(series.stats.count, 0)
    yield* d.fills.end
    yield* idle(d)
  })

/** Candles open as their CandleClosed is handled, before the engine sees them; in lockstep their fills settle first. */
export const openOnCandles = (
  fills: ReturnType<typeof makeBacktestFills>,
  room: ReturnType<typeof makeRoomGate>,
  barrier: PipelineBarrier | undefined
) =>
  Layer.scopedDiscard(Effect.flatMap(EventBus, (bus) =>
    bus.subscribe("CandleClosed", ({ payload }) => {
      room.took()
      return fills.openNow(payload) === 0 || barrier === undefined ? Effect.void : barrier.await
    }, { name: "backtest-open" })))
