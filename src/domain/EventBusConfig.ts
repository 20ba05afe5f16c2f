import { Config, Duration, Effect, Option } from "effect"
import { EventBusConfigError } from "./Errors.js"

/** The settings of an in-memory bus. */
export interface EventBusConfig {
  /** Capacity of the sliding `data` queue: past it the oldest event is dropped. */
  readonly dataCapacity: number
  /** Capacity of the bounded `signal` queue. */
  readonly signalCapacity: number
  /** Capacity of the bounded `order` queue: past it publishers wait. */
  readonly orderCapacity: number
  /** How long a publish to a full `signal` queue waits before failing with `QueueFullError`. */
  readonly signalPublishTimeout: Duration.DurationInput
  /** How long shutdown waits, in all, for the queues to drain. */
  readonly drainTimeout: Duration.DurationInput
  /** How long one handler may run on one event before it is interrupted and counted as failed. */
  readonly handlerTimeout: Duration.DurationInput
  /** Record the bus's Effect metrics (`trading_bus_*`: published, processed, dropped, failures, durations, waits). */
  readonly metrics: boolean
  /**
   * Run each handler call in a span (`trading-bus.handler`) for the current Tracer; off, the hot path has no span.
   * From the environment it defaults to on when spans are exported (`OTEL_EXPORTER_OTLP_ENDPOINT` is set).
   */
  readonly tracing: boolean
}

export const defaultEventBusConfig: EventBusConfig = {
  dataCapacity: 1000,
  signalCapacity: 100,
  orderCapacity: 50,
  signalPublishTimeout: "5 seconds",
  drainTimeout: "10 seconds",
  handlerTimeout: "30 seconds",
  metrics: false,
  tracing: false
}

/** A config with its durations decoded and every setting checked. */
export interface ResolvedEventBusConfig {
  readonly dataCapacity: number
  readonly signalCapacity: number
  readonly orderCapacity: number
  readonly signalPublishTimeout: Duration.Duration
  readonly drainTimeout: Duration.Duration
  readonly handlerTimeout: Duration.Duration
  readonly metrics: boolean
  readonly tracing: boolean
}

const capacity = (setting: string, value: number) =>
  Number.isSafeInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(new EventBusConfigError({ setting, value, reason: "must be a whole number >= 1" }))

const positiveDuration = (setting: string, value: Duration.DurationInput) => {
  const decoded = Duration.decodeUnknown(value)
  return decoded._tag === "Some" && Duration.greaterThan(decoded.value, Duration.zero)
    ? Effect.succeed(decoded.value)
    : Effect.fail(
      new EventBusConfigError({ setting, value, reason: "must be a positive duration, such as \"5 seconds\"" })
    )
}

/** Fills in the defaults and checks every setting, failing with the first one that cannot work. */
export const resolveEventBusConfig = (
  config: Partial<EventBusConfig> = {}
): Effect.Effect<ResolvedEventBusConfig, EventBusConfigError> => {
  const c = { ...defaultEventBusConfig, ...config }
  return Effect.all({
    dataCapacity: capacity("dataCapacity", c.dataCapacity),
    signalCapacity: capacity("signalCapacity", c.signalCapacity),
    orderCapacity: capacity("orderCapacity", c.orderCapacity),
    signalPublishTimeout: positiveDuration("signalPublishTimeout", c.signalPublishTimeout),
    drainTimeout: positiveDuration("drainTimeout", c.drainTimeout),
    handlerTimeout: positiveDuration("handlerTimeout", c.handlerTimeout),
    metrics: Effect.succeed(c.metrics),
    tracing: Effect.succeed(c.tracing)
  })
}

/** The environment variable behind each setting, for the README's table and error messages. */
export const eventBusEnv = {
  dataCapacity: "TRADING_BUS_DATA_CAPACITY",
  signalCapacity: "TRADING_BUS_SIGNAL_CAPACITY",
  orderCapacity: "TRADING_BUS_ORDER_CAPACITY",
  signalPublishTimeout: "TRADING_BUS_SIGNAL_PUBLISH_TIMEOUT",
  drainTimeout: "TRADING_BUS_DRAIN_TIMEOUT",
  handlerTimeout: "TRADING_BUS_HANDLER_TIMEOUT",
  metrics: "TRADING_BUS_METRICS",
  tracing: "TRADING_BUS_TRACING"
} as const satisfies Record<keyof EventBusConfig, string>

/**
 * Whether the environment asks for span export (what `OtlpTracing.layerFromEnv` reads):
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set, an empty value counting as unset.
 */
const exportingSpans: Config.Config<boolean> = Config.all([
  Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")),
  Config.option(Config.string("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
]).pipe(Config.map((values) => values.some((v) => Option.isSome(v) && v.value.trim() !== "")))

/**
 * The bus settings from the environment, each defaulting as in `defaults`.
 * `tracing`: `TRADING_BUS_TRACING` if set, else `defaults.tracing` if given,
 * else on exactly when spans are exported (an OTLP endpoint is set).
 */
export const eventBusConfigFromEnv = (
  defaults: Partial<EventBusConfig> = {}
): Config.Config<EventBusConfig> => {
  const d = { ...defaultEventBusConfig, ...defaults }
  return Config.all({
  dataCapacity: Config.integer(eventBusEnv.dataCapacity).pipe(Config.withDefault(d.dataCapacity)),
  signalCapacity: Config.integer(eventBusEnv.signalCapacity).pipe(Config.withDefault(d.signalCapacity)),
  orderCapacity: Config.integer(eventBusEnv.orderCapacity).pipe(Config.withDefault(d.orderCapacity)),
  signalPublishTimeout: Config.duration(eventBusEnv.signalPublishTimeout).pipe(
    Config.withDefault(Duration.decode(d.signalPublishTimeout))
  ),
  drainTimeout: Config.duration(eventBusEnv.drainTimeout).pipe(Config.withDefault(Duration.decode(d.drainTimeout))),
  handlerTimeout: Config.duration(eventBusEnv.handlerTimeout).pipe(
    Config.withDefault(Duration.decode(d.handlerTimeout))
  ),
  metrics: Config.boolean(eventBusEnv.metrics).pipe(Config.withDefault(d.metrics)),
  tracing: Config.option(Config.boolean(eventBusEnv.tracing)).pipe(
    Config.zipWith(exportingSpans, (explicit, exporting) => Option.getOrElse(explicit, () => defaults.tracing ?? exporting))
  )
})
}

/** The bus settings from the environment, each defaulting as in `defaultEventBusConfig`. */
export const EventBusConfigFromEnv: Config.Config<EventBusConfig> = eventBusConfigFromEnv()
