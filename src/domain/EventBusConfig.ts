import { Config, ConfigError, Duration, Effect, Either, Option } from "effect"
import { parseDuration } from "./DurationText.js"
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

/** The ranges every bus setting must be in, from the environment or in code (documented in the README). */
export const eventBusRanges = {
  capacity: { min: 1, max: 1_000_000, accepted: "a whole number from 1 to 1000000" },
  // a timer cannot wait longer than 2^31 - 1 ms (24.8 days): 24 days is the longest any timeout can be
  timeout: { min: Duration.millis(1), max: Duration.days(24), accepted: "a duration from 1ms to 24d, such as 500ms, 5s or \"5 seconds\"" }
} as const

const inCapacityRange = (value: number) =>
  Number.isSafeInteger(value) && value >= eventBusRanges.capacity.min && value <= eventBusRanges.capacity.max

const inTimeoutRange = (d: Duration.Duration) =>
  Duration.isFinite(d) &&
  Duration.between(d, { minimum: eventBusRanges.timeout.min, maximum: eventBusRanges.timeout.max })

const capacity = (setting: string, value: number) =>
  inCapacityRange(value)
    ? Effect.succeed(value)
    : Effect.fail(new EventBusConfigError({ setting, value, reason: `must be ${eventBusRanges.capacity.accepted}` }))

const positiveDuration = (setting: string, value: Duration.DurationInput) => {
  const decoded = Duration.decodeUnknown(value)
  return Option.isSome(decoded) && inTimeoutRange(decoded.value)
    ? Effect.succeed(decoded.value)
    : Effect.fail(
      new EventBusConfigError({
        setting,
        // a Duration shows as "-1 seconds" rather than as its JSON
        value: Duration.isDuration(value) ? Duration.format(value) : value,
        reason: `must be ${eventBusRanges.timeout.accepted}`
      })
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
 * One variable, checked here so that its error names the variable (the
 * ConfigError's path), not the layer's setting: `TRADING_BUS_DATA_CAPACITY`
 * rather than `dataCapacity`. Unset or empty, it is none.
 */
const fromEnv = <A>(name: string, accepted: string, parse: (text: string) => Option.Option<A>) =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail((text) => {
      if (Option.isNone(text) || text.value.trim() === "") return Either.right(Option.none<A>())
      return Option.match(parse(text.value.trim()), {
        onNone: () => Either.left(ConfigError.InvalidData([name], `expected ${accepted}`)),
        onSome: (value) => Either.right(Option.some(value))
      })
    })
  )

const capacityFromEnv = (name: string, fallback: number) =>
  fromEnv(name, eventBusRanges.capacity.accepted, (text) => {
    // decimal digits only: "0x10" and "1e12" are refused rather than read as 16 and 10^12
    const n = /^\d+$/.test(text) ? Number(text) : Number.NaN
    return inCapacityRange(n) ? Option.some(n) : Option.none()
  }).pipe(Config.map(Option.getOrElse(() => fallback)))

const timeoutFromEnv = (name: string, fallback: Duration.DurationInput) =>
  fromEnv(name, eventBusRanges.timeout.accepted, (text) => Option.filter(parseDuration(text), inTimeoutRange)).pipe(
    Config.map(Option.getOrElse(() => Duration.decode(fallback)))
  )

const booleanFromEnv = (name: string) =>
  fromEnv(name, "true or false", (text) => {
    const lower = text.toLowerCase()
    return ["true", "1", "yes", "on"].includes(lower)
      ? Option.some(true)
      : ["false", "0", "no", "off"].includes(lower)
      ? Option.some(false)
      : Option.none()
  })

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
    dataCapacity: capacityFromEnv(eventBusEnv.dataCapacity, d.dataCapacity),
    signalCapacity: capacityFromEnv(eventBusEnv.signalCapacity, d.signalCapacity),
    orderCapacity: capacityFromEnv(eventBusEnv.orderCapacity, d.orderCapacity),
    signalPublishTimeout: timeoutFromEnv(eventBusEnv.signalPublishTimeout, d.signalPublishTimeout),
    drainTimeout: timeoutFromEnv(eventBusEnv.drainTimeout, d.drainTimeout),
    handlerTimeout: timeoutFromEnv(eventBusEnv.handlerTimeout, d.handlerTimeout),
    metrics: booleanFromEnv(eventBusEnv.metrics).pipe(Config.map(Option.getOrElse(() => d.metrics))),
    tracing: booleanFromEnv(eventBusEnv.tracing).pipe(
      Config.zipWith(exportingSpans, (explicit, exporting) => Option.getOrElse(explicit, () => defaults.tracing ?? exporting))
    )
  })
}

/** The bus settings from the environment, each defaulting as in `defaultEventBusConfig`. */
export const EventBusConfigFromEnv: Config.Config<EventBusConfig> = eventBusConfigFromEnv()
