import { Deferred, Effect } from "effect"
import * as MemoryEventBus from "../src/layers/bus/MemoryEventBus.js"
import { EventBus } from "../src/services/EventBus.js"
import { gc } from "./harness.js"
import { makeEvents } from "./scenarios.js"

/**
 * Heap and RSS with `n` events queued behind a handler that has not
 * returned: the bus's own cost per queued event, not counting the events
 * themselves (built before the first reading).
 */
export const queuedMemory = (n: number) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const release = yield* Deferred.make<void>()
    yield* bus.subscribe("OrderCreated", () => Deferred.await(release))
    const events = makeEvents("OrderCreated", n + 1)
    gc()
    const before = process.memoryUsage()
    yield* bus.publishAll(events)
    yield* Effect.yieldNow()
    gc()
    const after = process.memoryUsage()
    const stats = yield* bus.stats
    yield* Deferred.succeed(release, undefined)
    return {
      queued: stats.order.size,
      heapPerEvent: (after.heapUsed - before.heapUsed) / n,
      peakRss: after.rss,
      rssDelta: after.rss - before.rss
    }
  }).pipe(Effect.provide(MemoryEventBus.layer({ orderCapacity: n })))
