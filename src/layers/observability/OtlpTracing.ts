import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { NodeHttpClient } from "@effect/platform-node"
import { Config, type ConfigError, Data, type Duration, Effect, Layer, Option } from "effect"

/**
 * A trace-export setting that cannot work. `variable` names what to fix: the
 * environment variable for `layerFromEnv`, the option (`url`) for `layer`.
 */
export class OtlpTracingConfigError extends Data.TaggedError("OtlpTracingConfigError")<{
  readonly variable: string
  readonly value: string
  readonly reason: string
}> {
  override get message() {
    return `invalid ${this.variable} ${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/** The OpenTelemetry environment variables `layerFromEnv` reads. */
export const otlpEnv = {
  /** The collector's OTLP/HTTP base URL; traces go to `<endpoint>/v1/traces`. Unset or empty: no export. */
  endpoint: "OTEL_EXPORTER_OTLP_ENDPOINT",
  /** The full URL traces are posted to; wins over `endpoint`. */
  tracesEndpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  /** `service.name` of the exported resource, default "trading-bus". */
  serviceName: "OTEL_SERVICE_NAME",
  /** Headers sent with every export, `key=value,key2=value2` (percent-encoded, as the spec says). */
  headers: "OTEL_EXPORTER_OTLP_HEADERS",
  /** Headers for traces only, added over `headers`. */
  tracesHeaders: "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
} as const

export const defaultServiceName = "trading-bus"
export const serviceVersion = "0.1.0"

export interface OtlpTracingOptions {
  /** The full URL spans are posted to, such as http://127.0.0.1:4318/v1/traces (OTLP/HTTP with JSON bodies). */
  readonly url: string
  /** `service.name` of the resource; default "trading-bus". */
  readonly serviceName?: string | undefined
  /** `service.version` of the resource; default this package's version. */
  readonly serviceVersion?: string | undefined
  /** More resource attributes (`OTEL_RESOURCE_ATTRIBUTES` is read as well). */
  readonly attributes?: Record<string, unknown> | undefined
  /** Headers sent with every export, such as an API key. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** How often ended spans are sent; default 5 seconds (and at once past 1000 spans, and when the layer closes). */
  readonly exportInterval?: Duration.DurationInput | undefined
  /** How long closing the layer waits for the last export; default 3 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/** What a URL must be, by where it comes from. */
const reasons = {
  url: "expected the http:// or https:// URL spans are posted to, such as http://127.0.0.1:4318/v1/traces",
  endpoint: "expected the collector's OTLP/HTTP base URL, such as http://127.0.0.1:4318 " +
    "(spans go to <it>/v1/traces); unset it to turn trace export off",
  tracesEndpoint: "expected the full http:// or https:// URL traces are posted to, such as " +
    "http://127.0.0.1:4318/v1/traces; unset it (and OTEL_EXPORTER_OTLP_ENDPOINT) to turn trace export off"
}

const checkUrl = (variable: string, value: string, reason: string) =>
  Effect.suspend(() => {
    let url: URL
    try {
      url = new URL(value.trim())
    } catch {
      return Effect.fail(new OtlpTracingConfigError({ variable, value, reason }))
    }
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== ""
      ? Effect.succeed(url)
      : Effect.fail(new OtlpTracingConfigError({ variable, value, reason }))
  })

/**
 * The span exporter as a layer: while it is built, the current Tracer sends
 * every ended span (the bus's `trading-bus.handler` spans among them) to
 * `options.url` as OTLP/HTTP JSON, in batches. Closing the layer sends what
 * is left. It brings its own HTTP client.
 */
export const layer = (options: OtlpTracingOptions): Layer.Layer<never, OtlpTracingConfigError> =>
  Layer.unwrapEffect(
    Effect.map(
      checkUrl("url", options.url, reasons.url),
      (url) =>
        OtlpTracer.layer({
          url: url.href,
          resource: {
            serviceName: options.serviceName ?? defaultServiceName,
            serviceVersion: options.serviceVersion ?? serviceVersion,
            ...(options.attributes === undefined ? {} : { attributes: options.attributes })
          },
          headers: options.headers,
          exportInterval: options.exportInterval,
          shutdownTimeout: options.shutdownTimeout
        }).pipe(Layer.provide(Layer.merge(OtlpSerialization.layerJson, NodeHttpClient.layerUndici)))
    )
  )

/** A variable's value, an empty one counting as unset (as the OpenTelemetry spec says). */
const optionalVariable = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Config.map(Option.filter((value) => value.trim() !== ""))
  )

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

const headersReason =
  "expected comma-separated key=value pairs such as api-key=secret,team=ops " +
  "(keys are header names, values percent-encoded)"

/** `key=value,key2=value2`, each part trimmed and percent-decoded; a malformed entry fails (its value is not shown). */
const parseHeaders = (variable: string, text: string) =>
  Effect.suspend(() => {
    const headers: Record<string, string> = {}
    const entries = text.split(",")
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!.trim()
      if (entry === "") continue
      const fail = (problem: string) =>
        Effect.fail(
          new OtlpTracingConfigError({
            variable,
            value: "(not shown: it may hold secrets)",
            reason: `entry ${i + 1} ${problem}: ${headersReason}`
          })
        )
      const eq = entry.indexOf("=")
      if (eq < 0) return fail("has no \"=\"")
      let key: string
      let value: string
      try {
        key = decodeURIComponent(entry.slice(0, eq).trim())
        value = decodeURIComponent(entry.slice(eq + 1).trim())
      } catch {
        return fail("is not valid percent-encoding")
      }
      if (!headerName.test(key)) return fail(`has no valid header name before "="`)
      if (/[\r\n\0]/.test(value)) return fail("has a line break in its value")
      headers[key] = value
    }
    return Effect.succeed(headers)
  })

const headersFrom = (variable: string) =>
  Effect.flatMap(
    optionalVariable(variable),
    Option.match({ onNone: () => Effect.succeed({}), onSome: (text) => parseHeaders(variable, text) })
  )

/** `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, read the way @effect/opentelemetry reads that variable. */
const resourceServiceName = Config.option(Config.string("OTEL_RESOURCE_ATTRIBUTES")).pipe(
  Config.map(Option.flatMap((text) =>
    Option.fromNullable(
      text.split(",")
        .map((pair) => pair.split("="))
        .find((parts) => parts.length === 2 && parts[0]!.trim() === "service.name")?.[1]?.trim()
    )
  ))
)

/**
 * The traces URL the environment asks for: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * as it is, or else `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended
 * to its path; `None` when neither is set (or both are empty).
 */
export const tracesUrlFromEnv: Effect.Effect<
  Option.Option<string>,
  OtlpTracingConfigError | ConfigError.ConfigError
> = Effect.gen(function*() {
  const traces = yield* optionalVariable(otlpEnv.tracesEndpoint)
  if (Option.isSome(traces)) {
    const url = yield* checkUrl(
      otlpEnv.tracesEndpoint,
      traces.value,
      reasons.tracesEndpoint
    )
    return Option.some(url.href)
  }
  const base = yield* optionalVariable(otlpEnv.endpoint)
  if (Option.isNone(base)) return Option.none()
  const url = yield* checkUrl(otlpEnv.endpoint, base.value, reasons.endpoint)
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/traces`
  return Option.some(url.href)
})

/**
 * The span exporter configured by the standard OpenTelemetry environment
 * variables (`otlpEnv`). Without `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` it is `Layer.empty`: no Tracer is
 * installed and no HTTP client is built. A URL or header list that cannot
 * work fails the build with `OtlpTracingConfigError` naming the variable.
 */
export const layerFromEnv: Layer.Layer<never, OtlpTracingConfigError | ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const url = yield* tracesUrlFromEnv
    if (Option.isNone(url)) return Layer.empty
    const serviceName = yield* optionalVariable(otlpEnv.serviceName)
    const fromAttributes = yield* resourceServiceName
    const headers = { ...(yield* headersFrom(otlpEnv.headers)), ...(yield* headersFrom(otlpEnv.tracesHeaders)) }
    return layer({
      url: url.value,
      // OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES, then ours
      serviceName: serviceName.pipe(
        Option.orElse(() => fromAttributes),
        Option.getOrElse(() => defaultServiceName)
      ).trim(),
      headers
    })
  })
)
