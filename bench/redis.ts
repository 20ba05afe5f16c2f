/**
 * The bus over Redis Streams against the memory bus, on the same events and the same handler, in one run: order
 * events (schema-valid, encoded on the wire) published with `publishAll` to a handler that does nothing but count
 * (events/s until the last one is handled), and publish-to-handler latency at a steady 500 events/s.
 * Standalone: `node --import tsx bench/redis.ts`. Needs `redis-server` on the PATH (it starts its own).
 */
import { BigDecimal, Context, Deferred, Effect, Exit, Layer, Scope } from "effect"
import { pathToFileURL } from "node:url"
import { type BusEvent, makeEventAt } from "../src/domain/BusEvent.js"
import * as MemoryEventBus from "../src/layers/bus/MemoryEventBus.js"
import * as RedisEventBus from "../src/layers/bus/RedisEventBus.js"
import { EventBus } from "../src/services/EventBus.js"
import { redisSkipReason, startRedis } from "../test/support/redis.js"
import { fmtRate, median, quantile } from "./harness.js"

const orders = (n: number): Array<BusEvent> =>
  Array.from({ length: n }, (_, i) =>
    makeEventAt("OrderCreated", {
      clientOrderId: `bench-${i}`, symbol: i % 2 === 0 ? "BTCUSDT" : "ETHUSDT", side: "BUY", type: "MARKET",
      quantity: BigDecimal.unsafeFromString("0.001"), price: BigDecimal.unsafeFromString("42000.5"), status: "NEW", createdAt: i, updatedAt: i
    }, 0) as BusEvent)

type MakeBus = () => Layer.Layer<EventBus, unknown>

const withBus = <A>(make: MakeBus, use: (bus: EventBus["Type"]) => Effect.Effect<A>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const bus = Context.get(yield* Layer.buildWithScope(make(), scope), EventBus)
    const a = yield* use(bus)
    yield* Scope.close(scope, Exit.void)
    return a
  })

/** Events/s from the first publish until the handler saw the last event. */
const throughput = (make: MakeBus, events: ReadonlyArray<BusEvent>) =>
  withBus(make, (bus) =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      let seen = 0
      yield* bus.subscribe("OrderCreated", () => {
        if (++seen === events.length) Deferred.unsafeDone(done, Effect.void)
        return Effect.void
      })
      const t0 = performance.now()
      yield* Effect.orDie(bus.publishAll(events))
      yield* Deferred.await(done)
      return events.length / ((performance.now() - t0) / 1000)
    }))

/** Publish-to-handler latency, one event every 1/rate s, each published once the previous one was handled. */
const latency = (make: MakeBus, events: ReadonlyArray<BusEvent>, rate: number) =>
  withBus(make, (bus) =>
    Effect.gen(function*() {
      const publishedAt = new Map<string, number>()
      const latencies: Array<number> = []
      let handled = yield* Deferred.make<void>()
      yield* bus.subscribe("OrderCreated", (e) =>
        Effect.sync(() => {
          latencies.push(performance.now() - publishedAt.get(e.payload.clientOrderId)!)
          Deferred.unsafeDone(handled, Effect.void)
        }))
      const t0 = performance.now()
      for (let i = 0; i < events.length; i++) {
        const wait = t0 + (i * 1000) / rate - performance.now()
        if (wait > 0) yield* Effect.sleep(wait)
        handled = yield* Deferred.make<void>()
        publishedAt.set(`bench-${i}`, performance.now())
        yield* Effect.orDie(bus.publish(events[i]!))
        yield* Deferred.await(handled)
      }
      const sorted = Float64Array.from(latencies).sort()
      return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) }
    }))

/** The rows for docs/PERFORMANCE.md, or why they were skipped. */
export const redisTable = async (rounds = 3, n = 5_000): Promise<string> => {
  const skip = redisSkipReason()
  if (skip !== undefined) return `Over Redis: skipped (${skip}).`
  const redis = await startRedis()
  try {
    let runs = 0
    const buses: ReadonlyArray<readonly [string, MakeBus]> = [
      ["memory bus (MemoryEventBus)", () => MemoryEventBus.layer({ orderCapacity: n })],
      ["Redis Streams (RedisEventBus, 1 partition, AOF always)", () =>
        RedisEventBus.layer({ url: redis.url, namespace: `bench-${runs++}`, orderCapacity: n, consumer: "bench" })]
    ]
    const events = orders(n)
    const samples = buses.map(() => [] as Array<number>)
    for (let r = 0; r < rounds; r++) {
      for (let b = 0; b < buses.length; b++) samples[b]!.push(await Effect.runPromise(throughput(buses[b]![1], events)))
    }
    const lat: Array<{ readonly p50: number; readonly p99: number }> = []
    for (const [, make] of buses) lat.push(await Effect.runPromise(latency(make, events.slice(0, 1_000), 500)))
    const memoryRate = median(samples[0]!)
    return [
      `Order events (${n} a round, ${rounds} interleaved rounds, medians) to a handler that only counts them; latency at a steady`,
      "500 events/s over 1,000 events, each published once the previous one was handled.",
      "",
      "| bus | events/s | vs memory bus | latency p50 | latency p99 |",
      "|---|---:|---:|---:|---:|",
      ...buses.map(([name], b) =>
        `| ${name} | ${fmtRate(median(samples[b]!))} | ${(median(samples[b]!) / memoryRate).toFixed(3)} | ${(lat[b]!.p50 * 1000).toFixed(0)} us | ${(lat[b]!.p99 * 1000).toFixed(0)} us |`)
    ].join("\n")
  } finally {
    await redis.stop()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(`${await redisTable()}\n`)
}
