import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries, MetricState } from "effect"
import * as Metrics from "../../../src/domain/Metrics.js"
import * as PrometheusExporter from "../../../src/layers/observability/PrometheusExporter.js"
import { parse, samplesOf, valueOf } from "../../support/Prometheus.js"

// Metrics are global: each test labels its series with a value of its own.
let runs = 0
const unique = (what: string) => `${what}-${Date.now()}-${runs++}`

describe("PrometheusExporter", () => {
  it.effect("renders counters, gauges and histograms by the format's rules, families sorted", () =>
    Effect.gen(function*() {
      const handler = unique("handler")
      const failures = Metrics.labelled(Metrics.handlerFailuresTotal, "queue", "handler")("signal", handler)
      const wait = Metrics.labelled(Metrics.publishWaitSeconds, "queue")(handler)
      const size = Metrics.labelled(Metrics.queueSize, "queue")(handler)
      yield* Metric.incrementBy(failures, 3)
      yield* Metric.set(size, 42)
      // an Effect histogram
      for (const seconds of [0.000002, 0.003, 0.003, 5, 100]) yield* Metric.update(wait, seconds)
      // a counted histogram, added to in two parts
      const bounds = Metrics.handlerDurationBoundaries
      const countsOf = (observed: ReadonlyArray<number>) => {
        const counts = new Array<number>(bounds.length + 1).fill(0)
        for (const seconds of observed) {
          const i = bounds.findIndex((b) => seconds <= b)
          counts[i === -1 ? bounds.length : i]! += 1
        }
        return counts
      }
      const duration = Metrics.handlerDurationSeconds.series("signal", handler)
      duration.add(countsOf([0.00002, 0.003]), 0.00302)
      duration.add(countsOf([0.003, 12, 100]), 112.003)

      const text = yield* PrometheusExporter.scrape()
      const families = parse(text) // throws on any broken rule, histograms' included

      const names = [...families.keys()]
      expect(names).toEqual([...names].sort())
      expect(names.every((n) => n.startsWith("trading_bus_"))).toBe(true)
      expect(families.get("trading_bus_handler_failures_total")?.type).toBe("counter")
      expect(families.get("trading_bus_handler_failures_total")?.help).toBe(
        "Handler failures, defects and timeouts, by queue and handler."
      )
      expect(families.get("trading_bus_queue_size")?.type).toBe("gauge")
      expect(families.get("trading_bus_handler_duration_seconds")?.type).toBe("histogram")
      expect(valueOf(families, "trading_bus_handler_failures_total", { handler })).toBe(3)
      expect(valueOf(families, "trading_bus_queue_size", { queue: handler })).toBe(42)

      const buckets = samplesOf(families, "trading_bus_handler_duration_seconds_bucket").filter((s) =>
        s.labels["handler"] === handler
      )
      expect(buckets.length).toBe(Metrics.handlerDurationBoundaries.length + 1)
      expect(buckets[0]!.labels["le"]).toBe("0.00001")
      expect(buckets.at(-2)!.labels["le"]).toBe("30")
      expect(buckets.at(-1)).toMatchObject({ labels: { le: "+Inf" }, value: 5 })
      const at = (le: number) => buckets.find((b) => Number(b.labels["le"]) === le)!.value
      expect(at(0.00002)).toBe(1)
      expect(at(30)).toBe(4) // 100 s only in +Inf
      expect(valueOf(families, "trading_bus_handler_duration_seconds_count", { handler })).toBe(5)
      expect(valueOf(families, "trading_bus_handler_duration_seconds_sum", { handler })).toBeCloseTo(112.00602, 6)
      // HELP and TYPE once per family, before its samples
      expect(text.match(/^# TYPE trading_bus_handler_duration_seconds /gm)).toHaveLength(1)
      expect(text.match(/^# HELP trading_bus_handler_duration_seconds /gm)).toHaveLength(1)
      // the counters behind it are not families of their own
      expect([...families.keys()].filter((n) => n.startsWith("trading_bus_handler_duration_seconds_"))).toEqual([])

      // Effect's own histogram, the same way
      expect(families.get("trading_bus_publish_wait_seconds")?.type).toBe("histogram")
      const waits = samplesOf(families, "trading_bus_publish_wait_seconds_bucket").filter((s) =>
        s.labels["queue"] === handler
      )
      expect(waits.length).toBe(Metrics.publishWaitBoundaries.length + 1)
      expect(waits.find((b) => b.labels["le"] === "0.000002")?.value).toBe(1)
      expect(waits.find((b) => b.labels["le"] === "10")?.value).toBe(4)
      expect(valueOf(families, "trading_bus_publish_wait_seconds_count", { queue: handler })).toBe(5)
    }))

  it.effect("a counted histogram reads back from the registry as a histogram state", () =>
    Effect.gen(function*() {
      const handler = unique("assembled")
      const counts = new Array<number>(Metrics.handlerDurationBoundaries.length + 1).fill(0)
      counts[0] = 3 // three calls of at most 10 µs
      counts[Metrics.handlerDurationBoundaries.length] = 1 // one above 30 s
      Metrics.handlerDurationSeconds.series("order", handler).add(counts, 40.000015)
      const pairs = Metrics.assembleHistograms(yield* Metric.snapshot).filter((p) =>
        p.metricKey.tags.some((t) => t.key === "handler" && t.value === handler)
      )
      expect(pairs).toHaveLength(1)
      const { metricKey, metricState } = pairs[0]!
      expect(metricKey.name).toBe("trading_bus_handler_duration_seconds")
      expect(metricKey.tags.map((t) => t.key).sort()).toEqual(["handler", "queue"])
      expect(MetricState.isHistogramState(metricState)).toBe(true)
      const state = metricState as MetricState.MetricState.Histogram
      expect(state.count).toBe(4)
      expect(state.sum).toBeCloseTo(40.000015, 9)
      expect(state.buckets[0]).toEqual([0.00001, 3])
      expect(state.buckets.at(-2)).toEqual([30, 3])
      expect(state.buckets.at(-1)).toEqual([Number.POSITIVE_INFINITY, 4])
    }))

  it.effect("escapes label values and help text", () =>
    Effect.gen(function*() {
      const nasty = `${unique("a\\b")} "quoted"\nnext line`
      yield* Metric.increment(Metrics.labelled(Metrics.eventsDroppedTotal, "queue")(nasty))
      const help = Metric.counter(unique("trading_bus_test_help").replace(/-/g, "_"), {
        description: "back\\slash and\nnewline"
      })
      yield* Metric.increment(help)
      const text = yield* PrometheusExporter.scrape()
      expect(text).toContain(`queue="${nasty.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")}"`)
      expect(text).toContain("back\\\\slash and\\nnewline")
      const families = parse(text)
      expect(valueOf(families, "trading_bus_events_dropped_total", { queue: nasty })).toBe(1)
    }))

  it.effect("renders only trading_bus_ metrics by default, and every metric, sanitized, with prefix \"\"", () =>
    Effect.gen(function*() {
      const name = unique("other.metric").replace(/-/g, "_")
      yield* Metric.set(Metric.gauge(name).pipe(Metric.tagged("weird-label", "x")), 1.5)
      expect(yield* PrometheusExporter.scrape()).not.toContain(name.replace(".", "_"))
      const text = yield* PrometheusExporter.scrape({ prefix: "" })
      const families = parse(text)
      expect(valueOf(families, name.replace(".", "_"), { weird_label: "x" })).toBe(1.5)
    }))

  it("keeps +Inf equal to _count when an observation is NaN, and renders special values", () => {
    const name = unique("trading_bus_test_nan").replace(/-/g, "_")
    const histogram = Metric.histogram(name, MetricBoundaries.fromIterable([1, 2]), "test")
    histogram.unsafeUpdate(1, [])
    histogram.unsafeUpdate(Number.NaN, [])
    const gauge = Metric.gauge(`${name}_gauge`)
    gauge.unsafeUpdate(Number.NEGATIVE_INFINITY, [])
    const text = Effect.runSync(PrometheusExporter.scrape())
    const families = parse(text)
    expect(valueOf(families, `${name}_bucket`, { le: "+Inf" })).toBe(2)
    expect(valueOf(families, `${name}_count`)).toBe(2)
    expect(text).toContain(`${name}_gauge -Inf`)
    expect(PrometheusExporter.formatValue(Number.NaN)).toBe("NaN")
    expect(PrometheusExporter.formatValue(10n)).toBe("10")
  })

  it("renders a series registered under two descriptions once, with one TYPE per name", () => {
    const name = unique("trading_bus_test_dup").replace(/-/g, "_")
    Metric.counter(name, { description: "first" }).unsafeUpdate(1, [])
    Metric.counter(name, { description: "second" }).unsafeUpdate(1, [])
    Metric.gauge(name).unsafeUpdate(5, [])
    const text = Effect.runSync(PrometheusExporter.scrape())
    parse(text)
    expect(text.match(new RegExp(`^${name} `, "gm"))).toHaveLength(1)
    expect(text).toContain(`# TYPE ${name} counter`)
  })

  it("the bucket boundaries span 10 µs to 30 s and 1 µs to 10 s, exponentially", () => {
    const ratios = (bs: ReadonlyArray<number>) => bs.slice(1).map((b, i) => b / bs[i]!)
    expect(Metrics.handlerDurationBoundaries[0]).toBe(0.00001)
    expect(Metrics.handlerDurationBoundaries.at(-1)).toBe(30)
    expect(Metrics.publishWaitBoundaries[0]).toBe(0.000001)
    expect(Metrics.publishWaitBoundaries.at(-1)).toBe(10)
    for (const r of [...ratios(Metrics.handlerDurationBoundaries), ...ratios(Metrics.publishWaitBoundaries)]) {
      expect(r).toBeGreaterThanOrEqual(1.5)
      expect(r).toBeLessThanOrEqual(2.5 + 1e-9)
    }
  })

  it("the reader rejects what the format forbids", () => {
    expect(() => parse("x 1\n")).toThrow(/before its TYPE/)
    expect(() => parse("# TYPE x gauge\nx{1a=\"v\"} 1\n")).toThrow(/bad label name/)
    expect(() => parse("# TYPE 1x gauge\n")).toThrow(/bad metric name/)
    expect(() => parse("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"))
      .toThrow(/decrease/)
    expect(() => parse("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n")).toThrow(/_count/)
    expect(() => parse("# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n")).toThrow(/twice/)
  })
})
