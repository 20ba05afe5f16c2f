import type * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Layer } from "effect"
import { makeEventAt } from "../../domain/BusEvent.js"
import * as CandleFile from "../market/CandleFile.js"
import { EventBus } from "../../services/EventBus.js"
import { MarketData } from "../../services/MarketData.js"

/** The `source` of the events a replayed candle file publishes. */
export const name = "candles"

/**
 * A candle file (every format `CandleFile` reads) as a live source: its candles are published as
 * `CandleClosed`, each once the data queue is empty, so that the sliding queue drops none; the source
 * then stays connected and idle until its scope closes.
 */
export const layer = (
  options: CandleFile.CandleFileOptions
): Layer.Layer<MarketData, CandleFile.CandleFileError, EventBus | FileSystem.FileSystem> =>
  Layer.scoped(
    MarketData,
    Effect.gen(function*() {
      const bus = yield* EventBus
      const content = yield* CandleFile.read(options)
      let published = 0
      yield* Effect.logInfo(`candles: ${content.candles.length} ${content.symbol} ${content.interval} candles from ${content.path}`)
      yield* Effect.forkScoped(Effect.gen(function*() {
        for (const candle of content.candles) {
          while ((yield* bus.stats).data.size > 0) yield* Effect.yieldNow()
          yield* bus.publish(makeEventAt("CandleClosed", candle, candle.closeTime, { source: name }))
          published++
        }
      }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("candles: the file's replay stopped", cause))))
      return MarketData.of({
        name,
        stats: Effect.sync(() => ({
          messages: content.candles.length + content.malformed.length,
          malformed: content.malformed.length,
          reconnects: 0,
          backfilled: 0,
          candles: published,
          connected: true
        }))
      })
    })
  )
