import { Deferred, Effect } from "effect"
import { makeEventAt } from "../src/domain/BusEvent.js"
import * as MemoryEventBus from "../src/layers/bus/MemoryEventBus.js"
import { EventBus } from "../src/services/EventBus.js"
import { quantile } from "./harness.js"

/**
 * Publish-to-handler latency at a steady rate: the publisher sends event i
 * at start + i/rate and records when it published; the handler records when
 * it ran. Between events the publisher yields until the handler has run,
 * then waits for the next due time in a synchronous spin: the thread has
 * nothing else to do, and a spin of `yieldNow` would allocate enough to
 * measure the harness's garbage collections rather than the bus.
 */
export const latencyAtRate = (rate: number, seconds: number) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const n = Math.round(rate * seconds)
    const publishedAt = new Float64Array(n)
    const latencies = new Float64Array(n)
    const done = yield* Deferred.make<void>()
    let seen = 0
    yield* bus.subscribe("OrderCreated", (event) => {
      const i = (event.payload as unknown as { seq: number }).seq
      latencies[i] = performance.now() - publishedAt[i]!
      if (++seen === n) Deferred.unsafeDone(done, Effect.void)
      return Effect.void
    })
    const events = Array.from({ length: n }, (_, seq) => makeEventAt("OrderCreated", { seq } as never, 0))
    const interval = 1000 / rate
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      const due = t0 + i * interval
      while (performance.now() < due) {
        // spin: see above
      }
      publishedAt[i] = performance.now()
      yield* bus.publish(events[i]!)
      while (seen <= i) yield* Effect.yieldNow()
    }
    yield* Deferred.await(done)
    latencies.sort()
    const us = (q: number) => quantile(latencies, q) * 1000
    return { p50: us(0.5), p99: us(0.99), p999: us(0.999), max: latencies[n - 1]! * 1000, n }
  }).pipe(Effect.provide(MemoryEventBus.layer()))
