import { BigDecimal, Console, Effect } from "effect"
import { type BusEvent, defaultQueue, makeEvent, queueNames } from "../domain/BusEvent.js"
import type { EventBusConfig } from "../domain/EventBusConfig.js"
import * as MemoryEventBus from "../layers/bus/MemoryEventBus.js"
import { type BusStats, EventBus } from "../services/EventBus.js"

/** Formats bus stats as a small table, one row per queue. */
export const formatStats = (stats: BusStats): string => {
  const header = "queue    size/capacity  processed  dropped  failed"
  const rows = queueNames.map((q) => {
    const s = stats[q]
    return `${q.padEnd(8)} ${`${s.size}/${s.capacity}`.padStart(13)}  ${String(s.processed).padStart(9)}  ${
      String(s.dropped).padStart(7)
    }  ${String(s.failed).padStart(6)}`
  })
  return [header, ...rows].join("\n")
}

const burst = (n: number) =>
  Effect.gen(function*() {
    const events: Array<BusEvent> = []
    for (let i = 0; i < n; i++) {
      const close = 42_000 + Math.sin(i / 10) * 50
      events.push(
        yield* makeEvent("CandleClosed", {
          symbol: "BTCUSDT",
          interval: "1s",
          openTime: i * 1000,
          closeTime: i * 1000 + 999,
          open: close,
          high: close,
          low: close,
          close,
          volume: 1,
          quoteVolume: close,
          trades: 1,
          isClosed: true
        }, { source: "demo" })
      )
      if (i % 10 === 0) {
        events.push(
          yield* makeEvent("SignalGenerated", {
            symbol: "BTCUSDT",
            direction: i % 20 === 0 ? "LONG" : "SHORT",
            price: close,
            strategy: "demo",
            reason: `every tenth candle (#${i})`,
            timestamp: i * 1000 + 999
          }, { source: "demo" })
        )
      }
      if (i % 50 === 0) {
        events.push(
          yield* makeEvent("OrderCreated", {
            clientOrderId: `demo-${i}`,
            symbol: "BTCUSDT",
            side: "BUY",
            type: "MARKET",
            quantity: BigDecimal.unsafeFromString("0.001"),
            price: BigDecimal.unsafeFromString(close.toFixed(2)),
            status: "NEW",
            createdAt: i * 1000,
            updatedAt: i * 1000
          }, { source: "demo" })
        )
      }
    }
    return events
  })

/**
 * A tour of the bus: a burst of market data (more than the data queue
 * holds, so the oldest candles are dropped), signals and orders, one handler
 * per type, then a clean shutdown that drains what is left.
 */
export const demo = (options: { readonly events: number; readonly config?: Partial<EventBusConfig> }) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    let handled = 0
    yield* bus.subscribe("CandleClosed", () => Effect.sync(() => handled++), { name: "count-candles" })
    yield* bus.subscribe("SignalGenerated", () => Effect.sleep("1 millis"), { name: "slow-signal-consumer" })
    yield* bus.subscribe("OrderCreated", (e) =>
      e.payload.clientOrderId.endsWith("000") ? Effect.fail("a simulated rejection, logged and counted") : Effect.void, {
      name: "order-desk"
    })
    const events = yield* burst(options.events)
    yield* Console.log(`publishing ${events.length} events on the data, signal and order queues`)
    yield* Effect.forEach(queueNames, (q) => bus.publishAll(events.filter((e) => defaultQueue[e.type] === q)), {
      concurrency: "unbounded",
      discard: true
    })
    yield* Console.log(`\nright after publishing:\n${formatStats(yield* bus.stats)}`)
    yield* Effect.sleep("200 millis")
    yield* Console.log(`\n200 ms later:\n${formatStats(yield* bus.stats)}`)
    yield* Console.log("\nshutting down: the bus drains what is left, then stops its processors")
  }).pipe(Effect.provide(MemoryEventBus.layer(options.config)))
