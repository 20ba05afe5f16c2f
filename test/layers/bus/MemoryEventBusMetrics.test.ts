import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Metric, TestClock } from "effect"
import { makeEventAt } from "../../../src/domain/BusEvent.js"
import { eventsProcessedTotal, eventsPublishedTotal, labelled } from "../../../src/domain/Metrics.js"
import { scrape } from "../../../src/layers/observability/PrometheusExporter.js"
import { candle, openBus, order, settle } from "../../support/fixtures.js"
import { parse, valueOf } from "../../support/Prometheus.js"

// Effect's metrics are global: each test reads deltas, or series under a handler name of its own.
const read = Effect.map(scrape(), parse)

describe("MemoryEventBus metrics", () => {
  it.scoped("counts published, processed, dropped and failed events, and times each handler", () =>
    Effect.gen(function*() {
      const before = yield* read
      const value = (families: typeof before, name: string, labels: Record<string, string>) =>
        valueOf(families, name, labels) ?? 0
      const { bus } = yield* openBus({ dataCapacity: 2, metrics: true })
      const release = yield* Deferred.make<void>()
      yield* bus.subscribe("CandleClosed", () => Deferred.await(release), { name: "metrics-test-slow" })
      yield* bus.subscribe("OrderCreated", (e) =>
        e.payload.clientOrderId === "bad" ? Effect.fail("no") : Effect.void, { name: "metrics-test-orders" })
      yield* bus.publish(makeEventAt("CandleClosed", candle(1), 0))
      yield* settle
      // two fill the queue, the next two push out the oldest two
      yield* bus.publishAll([2, 3, 4, 5].map((c) => makeEventAt("CandleClosed", candle(c), 0)))
      yield* bus.publishAll(["a", "bad", "c"].map((id) => makeEventAt("OrderCreated", order(id), 0)))
      yield* Deferred.succeed(release, undefined)
      yield* settle
      const after = yield* read
      const delta = (name: string, labels: Record<string, string>) =>
        value(after, name, labels) - value(before, name, labels)
      expect(delta("trading_bus_events_published_total", { queue: "data", type: "CandleClosed" })).toBe(5)
      expect(delta("trading_bus_events_published_total", { queue: "order", type: "OrderCreated" })).toBe(3)
      expect(delta("trading_bus_events_processed_total", { queue: "data", type: "CandleClosed" })).toBe(3)
      expect(delta("trading_bus_events_processed_total", { queue: "order", type: "OrderCreated" })).toBe(3)
      expect(delta("trading_bus_events_dropped_total", { queue: "data" })).toBe(2)
      expect(value(after, "trading_bus_handler_failures_total", { queue: "order", handler: "metrics-test-orders" }))
        .toBe(1)
      expect(value(after, "trading_bus_handler_duration_seconds_count", { queue: "order", handler: "metrics-test-orders" }))
        .toBe(3)
      expect(value(after, "trading_bus_handler_duration_seconds_count", { queue: "data", handler: "metrics-test-slow" }))
        .toBe(3)
    }))

  it.scoped("times every handler call: fast ones in runs, a slow one in its own bucket", () =>
    Effect.gen(function*() {
      const { bus } = yield* openBus({ orderCapacity: 4096, metrics: true })
      const name = "metrics-test-runs"
      yield* bus.subscribe("OrderCreated", (e) => {
        // work done when called, as most handlers do: 3 ms of it for one event
        if (e.payload.clientOrderId === "slow") for (const t0 = performance.now(); performance.now() - t0 < 3;);
        return Effect.void
      }, { name })
      const ids = Array.from({ length: 2000 }, (_, i) => i === 1000 ? "slow" : `fast-${i}`)
      yield* bus.publishAll(ids.map((id) => makeEventAt("OrderCreated", order(id), 0)))
      yield* settle
      const families = yield* read
      const labels = { queue: "order", handler: name }
      expect(valueOf(families, "trading_bus_handler_duration_seconds_count", labels)).toBe(2000)
      expect(valueOf(families, "trading_bus_handler_duration_seconds_sum", labels)).toBeGreaterThanOrEqual(0.003)
      // at least 3 ms less the other calls of its run (under 5 µs in all): above the 2 ms bucket
      expect(valueOf(families, "trading_bus_handler_duration_seconds_bucket", { ...labels, le: "0.002" }))
        .toBeLessThanOrEqual(1999)
    }))

  it.scoped("observes how long a publisher waited for room on a full queue", () =>
    Effect.gen(function*() {
      const before = (yield* read)
      const count = (families: typeof before) =>
        valueOf(families, "trading_bus_publish_wait_seconds_count", { queue: "order" }) ?? 0
      const { bus } = yield* openBus({ orderCapacity: 1, metrics: true })
      const release = yield* Deferred.make<void>()
      yield* bus.subscribe("OrderCreated", () => Deferred.await(release), { name: "metrics-test-wait" })
      yield* bus.publish(makeEventAt("OrderCreated", order("1"), 0))
      yield* settle
      yield* bus.publish(makeEventAt("OrderCreated", order("2"), 0))
      const waiting = yield* Effect.fork(bus.publish(makeEventAt("OrderCreated", order("3"), 0)))
      yield* settle
      yield* Deferred.succeed(release, undefined)
      yield* waiting.await
      expect(count(yield* read) - count(before)).toBe(1)
    }))

  it.scoped("counts events still queued as published at a scrape", () =>
    Effect.gen(function*() {
      const published = (families: typeof before) =>
        valueOf(families, "trading_bus_events_published_total", { queue: "order", type: "OrderCancelled" }) ?? 0
      const processed = (families: typeof before) =>
        valueOf(families, "trading_bus_events_processed_total", { queue: "order", type: "OrderCancelled" }) ?? 0
      const before = yield* read
      const { bus } = yield* openBus({ metrics: true })
      const release = yield* Deferred.make<void>()
      yield* bus.subscribe("OrderCancelled", () => Deferred.await(release), { name: "metrics-test-queued" })
      yield* bus.publishAll([1, 2, 3].map(() => makeEventAt("OrderCancelled", order("queued"), 0)))
      yield* settle
      const during = yield* read
      expect(published(during) - published(before)).toBe(3)
      expect(processed(during) - processed(before)).toBe(0)
      yield* Deferred.succeed(release, undefined)
      yield* settle
      expect(processed(yield* read) - processed(before)).toBe(3)
    }))

  it.scoped("brings Effect's registry up to date every second, on stats and on close, for readers that do not scrape", () =>
    Effect.gen(function*() {
      // read straight from Effect's registry, as an OpenTelemetry exporter does: no flush first
      const published = Effect.map(
        Metric.value(labelled(eventsPublishedTotal, "queue", "type")("order", "OrderPlaced")),
        (s) => s.count
      )
      const processed = Effect.map(
        Metric.value(labelled(eventsProcessedTotal, "queue", "type")("order", "OrderPlaced")),
        (s) => s.count
      )
      const published0 = yield* published
      const processed0 = yield* processed
      const { bus, close } = yield* openBus({ metrics: true })
      yield* bus.subscribe("OrderPlaced", () => Effect.void, { name: "metrics-test-flush" })
      yield* bus.publishAll([1, 2, 3].map(() => makeEventAt("OrderPlaced", order("flush"), 0)))
      yield* settle
      yield* TestClock.adjust("1 second")
      expect(yield* published).toBe(published0 + 3)
      expect(yield* processed).toBe(processed0 + 3)
      yield* bus.publish(makeEventAt("OrderPlaced", order("flush"), 0))
      yield* settle
      yield* bus.stats
      expect(yield* published).toBe(published0 + 4)
      yield* bus.publish(makeEventAt("OrderPlaced", order("flush"), 0))
      yield* close
      expect(yield* published).toBe(published0 + 5)
      expect(yield* processed).toBe(processed0 + 5)
    }))

  it.scoped("records nothing with metrics off (the library default)", () =>
    Effect.gen(function*() {
      const { bus } = yield* openBus()
      yield* bus.subscribe("OrderCreated", () => Effect.void, { name: "metrics-test-off" })
      yield* bus.publish(makeEventAt("OrderCreated", order("x"), 0))
      yield* settle
      expect(valueOf(yield* read, "trading_bus_handler_duration_seconds_count", { queue: "order", handler: "metrics-test-off" }))
        .toBeUndefined()
    }))
})
