/**
 * The engine over Redis (`EngineOptions.bus`): which part of the engine a process runs. A `collector` runs the
 * source and publishes; an `engine` reads the partitions it owns and trades, with one execution per order across
 * the namespace; `all` does both.
 */
import { type Duration, Effect, Layer } from "effect"
import * as RedisEventBus from "../../bus/RedisEventBus.js"
import * as RedisOnceBroker from "../../execution/RedisOnceBroker.js"
import { Broker } from "../../../services/Broker.js"
import { MarketData } from "../../../services/MarketData.js"
import { EngineConfigError } from "./StartupChecks.js"

export type EngineRole = "collector" | "engine" | "all"
export const engineRoles: ReadonlyArray<EngineRole> = ["collector", "engine", "all"]

/** The bus of several processes: Redis Streams at `url`. */
export interface RedisBusOptions {
  readonly _tag: "Redis"
  readonly url: string
  /** Partitions per queue; the same in every process of the namespace. Default 1. */
  readonly partitions?: number
  readonly namespace?: string
  /** Default "all". */
  readonly role?: EngineRole
  /** How long a dead engine's partitions wait for another. Default 5 s. */
  readonly leaseTimeout?: Duration.DurationInput
}

const consumerName = (role: EngineRole) => `${role}-${process.pid}`

/** The Redis bus for the role; a bad URL or an unreachable server is a configuration error naming `bus`. */
export const redisBusLayer = (options: RedisBusOptions) => {
  const role = options.role ?? "all"
  return RedisEventBus.layer({
    url: options.url,
    partitions: options.partitions ?? 1,
    consumer: consumerName(role),
    publishOnly: role === "collector",
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    ...(options.leaseTimeout !== undefined ? { leaseTimeout: options.leaseTimeout } : {})
  }).pipe(
    Layer.catchAll((error) =>
      Layer.fail(new EngineConfigError({ option: error._tag === "EventBusConfigError" ? error.setting : "bus", value: error._tag === "EventBusConfigError" ? error.value : options.url, reason: error.message }))
    )
  )
}

/** An engine's source: its candles come over the bus from a collector. */
export const busSource: Layer.Layer<MarketData> = Layer.succeed(MarketData, MarketData.of({
  name: "redis",
  stats: Effect.succeed({ messages: 0, malformed: 0, reconnects: 0, backfilled: 0, candles: 0, connected: true })
}))

/** What an engine submits to: the broker, executed once per `clientOrderId` across the namespace. */
export const onceExecution = (options: RedisBusOptions): Layer.Layer<Broker, EngineConfigError, Broker> =>
  RedisOnceBroker.layer({
    url: options.url,
    consumer: consumerName(options.role ?? "all"),
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {})
  }).pipe(Layer.catchAll((error) => Layer.fail(new EngineConfigError({ option: "bus", value: options.url, reason: error.message }))))

export const sameBroker: Layer.Layer<Broker, never, Broker> = Layer.effect(Broker, Broker)
