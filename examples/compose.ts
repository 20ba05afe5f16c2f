/**
 * Using trading-bus from your own Effect program: provide the bus layer,
 * subscribe your handlers, publish events. Run it with `npx tsx examples/compose.ts`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { type Candle, EventBus, makeEvent, MemoryEventBus } from "trading-bus"

/** A component of your own: it watches closed candles and raises a signal when the price crosses a level. */
const PriceAlert = (level: number) =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const bus = yield* EventBus
      let last: number | undefined
      yield* bus.subscribe("CandleClosed", (event) =>
        Effect.gen(function*() {
          const { close, closeTime, symbol } = event.payload
          const crossed = last !== undefined && last < level && close >= level
          last = close
          if (!crossed) return
          const signal = yield* makeEvent("SignalGenerated", {
            symbol,
            direction: "LONG",
            price: close,
            strategy: "price-alert",
            reason: `${symbol} crossed ${level}`,
            timestamp: closeTime
          }, { source: "price-alert" })
          yield* bus.publish(signal)
        }), { name: "price-alert" })
    })
  )

const candle = (close: number, minute: number): Candle => ({
  symbol: "BTCUSDT",
  interval: "1m",
  openTime: minute * 60_000,
  closeTime: minute * 60_000 + 59_999,
  open: close,
  high: close,
  low: close,
  close,
  volume: 1,
  quoteVolume: close,
  trades: 1,
  isClosed: true
})

/** Your program: it only needs an EventBus, whichever implementation provides it. */
export const program = Effect.gen(function*() {
  const bus = yield* EventBus
  const signals: Array<string> = []
  yield* bus.subscribe("SignalGenerated", (event) => Effect.sync(() => signals.push(event.payload.reason)))
  const closes = [41_900, 41_950, 42_010, 42_030, 42_050]
  const events = yield* Effect.forEach(closes, (close, minute) => makeEvent("CandleClosed", candle(close, minute)))
  yield* bus.publishAll(events)
  return { signals, bus }
})

/** The composition root: the bus, your component on it, and the program; closing the scope drains the bus. */
export const main = Effect.gen(function*() {
  const { bus, signals } = yield* program
  yield* Effect.sleep("10 millis")
  const stats = yield* bus.stats
  yield* Effect.log(`signals: ${signals.join(", ")}; candles processed: ${stats.data.processed}`)
  return { signals, processed: stats.data.processed }
}).pipe(Effect.provide(PriceAlert(42_000).pipe(Layer.provideMerge(MemoryEventBus.layer({ dataCapacity: 100 })))))

if (import.meta.url === `file://${process.argv[1]}`) NodeRuntime.runMain(main)
