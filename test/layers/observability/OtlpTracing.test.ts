import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, LogLevel, Option } from "effect"
import { makeEventAt } from "../../../src/domain/BusEvent.js"
import { eventBusConfigFromEnv } from "../../../src/domain/EventBusConfig.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as OtlpTracing from "../../../src/layers/observability/OtlpTracing.js"
import { asConfigurationError } from "../../../src/programs/ConfigurationError.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { candle, settle } from "../../support/fixtures.js"
import { type OtlpReceiver, startOtlpReceiver } from "../../support/otlpReceiver.js"

const receiver = Effect.acquireRelease(Effect.promise(() => startOtlpReceiver()), (r) => Effect.promise(r.close))

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const closed = (n: number) => makeEventAt("CandleClosed", candle(n, n * 60_000), 0)

/** Two events through three handlers (one failing) on a bus, inside `exporter`; returns the events once all is closed. */
const publishThrough = <E, E2>(
  exporter: Layer.Layer<never, E>,
  bus: Layer.Layer<EventBus, E2> = MemoryEventBus.layer({ tracing: true }) as Layer.Layer<EventBus, never>
) =>
  Effect.gen(function*() {
    const events = [closed(1), closed(2)]
    yield* Effect.gen(function*() {
      const bus = yield* EventBus
      yield* bus.subscribe("CandleClosed", () => Effect.void, { name: "inline" })
      yield* bus.subscribe("CandleClosed", () => Effect.fail("boom"), { name: "failing" })
      yield* bus.subscribe("CandleClosed", () => Effect.yieldNow(), { name: "async" })
      yield* bus.publishAll(events)
      yield* settle
    }).pipe(
      Effect.provide(bus),
      // closing the exporter (after the bus drained) sends what is left
      Effect.provide(exporter),
      Logger.withMinimumLogLevel(LogLevel.None)
    )
    return events
  })

const handlerSpans = (r: OtlpReceiver) => r.spans.filter((s) => s.name === "trading-bus.handler")

describe("OtlpTracing", () => {
  it.scoped("layerFromEnv exports each handler call's span when it closes: attributes, error status, service name", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      const events = yield* publishThrough(OtlpTracing.layerFromEnv).pipe(
        withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_HEADERS: " x-api-key = s%20cret , team=ops" })
      )
      expect(r.rejected).toEqual([])
      expect(r.requests.map((q) => q.path)).toEqual(["/v1/traces"])
      expect(r.requests[0]!.headers).toMatchObject({ "x-api-key": "s cret", team: "ops" })
      const spans = handlerSpans(r)
      // (@effect/opentelemetry 0.64 also labels every failed span "status.interrupted": only the bus's attributes here)
      const busAttributes = ({ eventId, eventType, handler, queue }: Record<string, unknown>) => ({
        queue,
        handler,
        eventType,
        eventId
      })
      expect(spans.map((s) => busAttributes(s.attributes))).toEqual(
        events.flatMap((event) =>
          ["inline", "failing", "async"].map((handler) => ({
            queue: "data",
            handler,
            eventType: "CandleClosed",
            eventId: event.id
          }))
        )
      )
      // OTLP status codes: 1 ok, 2 error
      expect(spans.map((s) => s.status.code)).toEqual([1, 2, 1, 1, 2, 1])
      expect(spans[1]!.status.message).toContain("boom")
      for (const span of spans) {
        expect(span.resource).toMatchObject({ "service.name": "trading-bus", "service.version": "0.1.0" })
        expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
        expect(span.spanId).toMatch(/^[0-9a-f]{16}$/)
      }
    }))

  it.scoped("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT wins and is used as it is; OTEL_SERVICE_NAME names the service", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      yield* publishThrough(OtlpTracing.layerFromEnv).pipe(
        withEnv({
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${r.url}/collector/traces?tenant=a`,
          OTEL_SERVICE_NAME: "bus-under-test"
        })
      )
      expect(r.requests.map((q) => q.path)).toEqual(["/collector/traces?tenant=a"])
      expect(handlerSpans(r).length).toBe(6)
      expect(handlerSpans(r)[0]!.resource["service.name"]).toBe("bus-under-test")
    }))

  it.scoped("layer(options) posts to the URL it is given", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      yield* publishThrough(OtlpTracing.layer({ url: `${r.url}/v1/traces`, serviceName: "my-app", headers: { a: "b" } }))
      expect(r.requests.map((q) => [q.path, q.headers["a"]])).toEqual([["/v1/traces", "b"]])
      expect(handlerSpans(r).map((s) => s.resource["service.name"])).toEqual(Array(6).fill("my-app"))
    }))

  it.scoped("an endpoint with a path gets /v1/traces appended to it", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      yield* publishThrough(OtlpTracing.layerFromEnv).pipe(withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `${r.url}/otlp/` }))
      expect(r.requests.map((q) => q.path)).toEqual(["/otlp/v1/traces"])
    }))

  it.effect("without an endpoint (or with an empty one) layerFromEnv is empty: the tracer stays Effect's default", () =>
    Effect.gen(function*() {
      const before = yield* Effect.tracer
      for (const env of [{}, { OTEL_EXPORTER_OTLP_ENDPOINT: "" }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: " " }]) {
        const inside = yield* Effect.tracer.pipe(Effect.provide(OtlpTracing.layerFromEnv), withEnv(env))
        expect(inside).toBe(before)
        expect(Option.isNone(yield* OtlpTracing.tracesUrlFromEnv.pipe(withEnv(env)))).toBe(true)
      }
      // with an endpoint, another tracer is current
      const exporting = yield* Effect.tracer.pipe(
        Effect.provide(OtlpTracing.layerFromEnv),
        withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1" }),
        Effect.scoped
      )
      expect(exporting).not.toBe(before)
    }))

  it.effect("a URL that cannot work fails the build with OtlpTracingConfigError naming the variable (exit code 2)", () =>
    Effect.gen(function*() {
      const failure = (env: Record<string, string>) =>
        Effect.void.pipe(Effect.provide(OtlpTracing.layerFromEnv), withEnv(env), Effect.scoped, Effect.flip)
      for (const value of ["localhost:4318", "not a url", "ftp://127.0.0.1:4318", "http://"]) {
        const error = yield* failure({ OTEL_EXPORTER_OTLP_ENDPOINT: value })
        expect(error).toBeInstanceOf(OtlpTracing.OtlpTracingConfigError)
        expect(error).toMatchObject({ _tag: "OtlpTracingConfigError", variable: "OTEL_EXPORTER_OTLP_ENDPOINT", value })
        expect(error.message).toContain("such as http://127.0.0.1:4318")
        const configuration = asConfigurationError(error)
        expect(configuration?.message).toBe(
          `invalid OTEL_EXPORTER_OTLP_ENDPOINT ${JSON.stringify(value)}: ${(error as OtlpTracing.OtlpTracingConfigError).reason}`
        )
      }
      const endpoint = "http://127.0.0.1:4318"
      expect(yield* failure({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "traces" }))
        .toMatchObject({ variable: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value: "traces" })
      const headers = yield* failure({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_HEADERS: "a=b,secret-token" })
      expect(headers).toMatchObject({ variable: "OTEL_EXPORTER_OTLP_HEADERS" })
      // a header list may hold credentials: the message does not repeat it
      expect(asConfigurationError(headers)?.message).not.toContain("secret-token")
      expect(asConfigurationError(headers)?.message).toContain("entry 2 has no \"=\"")
      expect(yield* Effect.flip(Layer.build(OtlpTracing.layer({ url: "127.0.0.1:4318/v1/traces" })).pipe(Effect.scoped)))
        .toMatchObject({ variable: "url" })
    }))

  it.effect("the bus's tracing defaults to on with an OTLP endpoint; TRADING_BUS_TRACING=false turns it off", () =>
    Effect.gen(function*() {
      const tracing = (env: Record<string, string>, defaults = {}) =>
        Effect.map(eventBusConfigFromEnv(defaults), (c) => c.tracing).pipe(withEnv(env))
      const endpoint = "http://127.0.0.1:4318"
      expect(yield* tracing({})).toBe(false)
      expect(yield* tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "" })).toBe(false)
      expect(yield* tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })).toBe(true)
      expect(yield* tracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces` })).toBe(true)
      expect(yield* tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, TRADING_BUS_TRACING: "false" })).toBe(false)
      expect(yield* tracing({ TRADING_BUS_TRACING: "true" })).toBe(true)
      // a caller's explicit default is kept
      expect(yield* tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }, { tracing: false })).toBe(false)
      expect(yield* Effect.flip(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, TRADING_BUS_TRACING: "maybe" })))
        .toMatchObject({ _op: "InvalidData" })
    }))

  it.scoped("with layerFromEnv on both, setting the endpoint is enough to get the bus's spans", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      yield* publishThrough(OtlpTracing.layerFromEnv, MemoryEventBus.layerFromEnv).pipe(
        withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: r.url })
      )
      expect(handlerSpans(r).length).toBe(6)
    }))
})
