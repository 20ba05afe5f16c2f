import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, LogLevel } from "effect"
import * as Engine from "../../../src/layers/engine/Engine.js"
import * as MetricsServer from "../../../src/layers/observability/MetricsServer.js"
import * as SmaCrossoverStrategy from "../../../src/layers/trading/SmaCrossoverStrategy.js"
import { parse, samplesOf, valueOf } from "../../support/Prometheus.js"

// This file runs in its own process (vitest isolates files): the metric registry starts empty here.
const scrape = (url: string) =>
  Effect.promise(async () => parse(await (await fetch(`${url}/metrics`)).text()))

const queues = ["data", "signal", "order"]

describe("metrics that are always there", () => {
  it.scopedLive("a healthy engine exports its drop, failure, wait, retry and collector series at 0 from its first scrape", () =>
    Effect.gen(function*() {
      const engine = Engine.layer({
        source: { _tag: "Simulator", symbols: ["btcusdt"], seed: 3, speed: 1 },
        strategy: Layer.orDie(SmaCrossoverStrategy.layer({ fast: 2, slow: 5 })),
        journal: false
      })
      const context = yield* Layer.build(
        MetricsServer.layer({ port: 0 }).pipe(Layer.provideMerge(engine), Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
      )
      const f = yield* scrape(Context.get(context, MetricsServer.MetricsServer).url)

      for (const queue of queues) {
        expect(valueOf(f, "trading_bus_events_dropped_total", { queue }), queue).toBe(0)
        expect(valueOf(f, "trading_bus_publish_wait_seconds_count", { queue }), queue).toBe(0)
        expect(valueOf(f, "trading_bus_publish_wait_seconds_bucket", { queue, le: "+Inf" }), queue).toBe(0)
      }
      expect(valueOf(f, "trading_bus_events_published_total", { queue: "order", type: "OrderCreated" })).toBe(0)

      // every subscribed handler: a failure counter and a duration histogram, before its first call
      const failures = samplesOf(f, "trading_bus_handler_failures_total")
      expect(failures.length).toBeGreaterThanOrEqual(4)
      expect(failures.every((s) => s.value === 0)).toBe(true)
      for (const { labels } of failures) {
        expect(valueOf(f, "trading_bus_handler_duration_seconds_count", labels), labels["handler"]).toBeTypeOf("number")
      }
      expect(new Set(failures.map((s) => s.labels["queue"]))).toEqual(new Set(queues))

      // the signal and order handlers' retries and dead letters
      const retries = samplesOf(f, "trading_bus_handler_retries_total")
      expect(retries.length).toBeGreaterThanOrEqual(2)
      expect(retries.every((s) => s.value === 0)).toBe(true)
      expect(samplesOf(f, "trading_bus_dead_letters_total").map((s) => s.labels["handler"]).sort())
        .toEqual(retries.map((s) => s.labels["handler"]).sort())

      // the collector's counters, by source
      for (const name of ["malformed", "reconnects", "connection_failures", "ignored", "gaps"]) {
        expect(valueOf(f, `trading_bus_collector_${name}_total`, { source: "simulator" }), name).toBe(0)
      }
      expect(valueOf(f, "trading_bus_circuit_breaker_state")).toBe(0)
      // the source's symbols: their signal and order counters, before the first signal
      expect(valueOf(f, "trading_bus_signals_total", { symbol: "BTCUSDT", direction: "CLOSE" })).toBe(0)
      expect(valueOf(f, "trading_bus_orders_total", { symbol: "BTCUSDT", side: "SELL", status: "rejected" })).toBe(0)
    }), { timeout: 30_000 })
})
