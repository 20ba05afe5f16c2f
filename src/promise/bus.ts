/**
 * The bus for applications without Effect: `createTradingBus` wraps one `MemoryEventBus` in a `ManagedRuntime`,
 * events travel in their wire form (money as exact decimal strings) and handlers are plain async functions.
 */
import { Effect, Either, Layer, Logger, LogLevel, ManagedRuntime, Schema } from "effect"
import {
  type BusEvent,
  defaultQueue,
  EventPayloadSchemas,
  type EventType,
  makeEventAt,
  type QueueName
} from "../domain/BusEvent.js"
import { parseReason } from "../domain/ParseReason.js"
import { type EventBusConfig, resolveEventBusConfig } from "../domain/EventBusConfig.js"
import * as MemoryEventBus from "../layers/bus/MemoryEventBus.js"
import { type BusStats, EventBus } from "../services/EventBus.js"
import { BusClosedError, InvalidEventError, settle, toPromiseError } from "./errors.js"

type Schemas = typeof EventPayloadSchemas

/** A payload as it travels on the wire: numbers for market data, exact decimal strings for money. */
export type PlainPayload<T extends EventType> = Schema.Schema.Encoded<Schemas[T]>

/** What `publish` takes: the type and payload; `id`, `source` and `timestamp` are filled in when left out. */
export type EventInput = { readonly [T in EventType]: EventInputOf<T> }[EventType]

export interface EventInputOf<T extends EventType> {
  readonly type: T
  readonly payload: PlainPayload<T>
  readonly source?: string
  readonly id?: string
  readonly timestamp?: number
}

/** What a handler receives: the whole envelope, its payload in wire form. */
export interface PlainEvent<T extends EventType = EventType> {
  readonly id: string
  readonly type: T
  readonly payload: PlainPayload<T>
  readonly source: string
  readonly timestamp: number
}

/** A handler; `signal` aborts when the bus gives up on it (its `handlerTimeout`, or the end of the drain). */
export type PlainHandler<T extends EventType> = (
  event: PlainEvent<T>,
  context: { readonly signal: AbortSignal }
) => void | Promise<void>

export interface TradingBusOptions extends Partial<Omit<EventBusConfig, "tracing">> {
  /** The least severe of the bus's log lines to print (handler failures are errors). Default `"info"`. */
  readonly logLevel?: "none" | "error" | "warning" | "info" | "debug"
}

export interface PublishOptions {
  /** The queue; by default the event type's own. */
  readonly queue?: QueueName
  /** Aborts a publish still waiting for room in a full queue; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal
}

export interface TradingBus {
  readonly publish: (event: EventInput, options?: PublishOptions) => Promise<void>
  /** In order, with `publish`'s semantics per event; stops at the first failure. Every event is checked first. */
  readonly publishAll: (events: Iterable<EventInput>, options?: PublishOptions) => Promise<void>
  readonly subscribe: <T extends EventType>(type: T, handler: PlainHandler<T>, options?: { readonly name?: string }) => Promise<void>
  readonly stats: () => Promise<BusStats>
  /** Stops accepting events, drains the queues (bounded by `drainTimeout`) and stops the processors. Idempotent. */
  readonly close: () => Promise<void>
}

const logLevels = {
  none: LogLevel.None,
  error: LogLevel.Error,
  warning: LogLevel.Warning,
  info: LogLevel.Info,
  debug: LogLevel.Debug
} as const

const toBusEvent = (input: EventInput): Either.Either<BusEvent, InvalidEventError> => {
  const type = String((input as { readonly type?: unknown } | undefined)?.type)
  if (!Object.hasOwn(EventPayloadSchemas, type)) {
    return Either.left(new InvalidEventError({ type, reason: `the type must be one of ${Object.keys(EventPayloadSchemas).join(", ")}` }))
  }
  const schema = EventPayloadSchemas[type as EventType] as Schema.Schema<unknown, unknown>
  return Schema.decodeUnknownEither(schema)(input.payload).pipe(
    Either.mapLeft((error) => new InvalidEventError({ type, reason: parseReason(error) })),
    Either.map((payload) => {
      const event = makeEventAt(type as EventType, payload as never, input.timestamp ?? Date.now(), { source: input.source ?? "app" })
      return (input.id === undefined ? event : { ...event, id: input.id }) as BusEvent
    })
  )
}

const toPlain = <T extends EventType>(event: BusEvent<T>): PlainEvent<T> => ({
  id: event.id,
  type: event.type,
  payload: Schema.encodeSync(EventPayloadSchemas[event.type] as Schema.Schema<unknown, unknown>)(event.payload) as PlainPayload<T>,
  source: event.source,
  timestamp: event.timestamp
})

/**
 * A bus over one `ManagedRuntime`. Throws `EventBusConfigError` at once for an option that cannot work; the
 * bus starts with the first call.
 */
export const createTradingBus = (options: TradingBusOptions = {}): TradingBus => {
  const { logLevel = "info", ...config } = options
  const resolved = Effect.runSync(Effect.either(resolveEventBusConfig(config)))
  if (Either.isLeft(resolved)) throw toPromiseError(resolved.left)
  const runtime = ManagedRuntime.make(
    MemoryEventBus.layer(config).pipe(Layer.provide(Logger.minimumLogLevel(logLevels[logLevel])), Layer.orDie)
  )
  let closing: Promise<void> | undefined
  // the service itself, once built: its methods need no context, and they keep answering (with BusClosedError)
  // while and after the runtime closes, when the runtime no longer runs anything
  let service: Promise<EventBus["Type"]> | undefined
  const busNow = () => service ??= runtime.runPromise(EventBus)

  const run = <A, E>(use: (bus: EventBus["Type"]) => Effect.Effect<A, E>, signal?: AbortSignal): Promise<A> =>
    busNow().then((bus) => Effect.runPromiseExit(use(bus), signal === undefined ? undefined : { signal }))
      .then((exit) => settle(exit, signal))

  /** A publish after `close()` on a bus that was never started: nothing is queued anywhere. */
  const closed = (event: BusEvent, queue: QueueName | undefined) => {
    const name = queue ?? defaultQueue[event.type]
    return new BusClosedError({ queue: name, size: 0, capacity: resolved.right[`${name}Capacity`] })
  }

  const publishAll = (inputs: Iterable<EventInput>, options: PublishOptions = {}): Promise<void> => {
    const events: Array<BusEvent> = []
    for (const input of inputs) {
      const event = toBusEvent(input)
      if (Either.isLeft(event)) return Promise.reject(event.left)
      events.push(event.right)
    }
    if (events.length === 0) return Promise.resolve()
    if (closing !== undefined && service === undefined) return Promise.reject(closed(events[0]!, options.queue))
    if (options.signal?.aborted === true) return Promise.reject(options.signal.reason)
    return run((bus) => bus.publishAll(events, options.queue), options.signal)
  }

  return {
    publish: (event, options) => publishAll([event], options),
    publishAll,
    subscribe: (type, handler, options) => {
      if (!Object.hasOwn(EventPayloadSchemas, type)) {
        return Promise.reject(new InvalidEventError({ type: String(type), reason: "no such event type to subscribe to" }))
      }
      if (closing !== undefined) return Promise.reject(new Error("the bus is closed: no more subscriptions"))
      return run((bus) =>
        bus.subscribe(type, (event) =>
          Effect.tryPromise({
            try: async (signal) => handler(toPlain(event), { signal }),
            catch: (cause) => cause
          }), options))
    },
    stats: () => {
      if (closing !== undefined && service === undefined) {
        const of = (queue: QueueName) => ({ size: 0, capacity: resolved.right[`${queue}Capacity`], dropped: 0, processed: 0, failed: 0 })
        return Promise.resolve({ data: of("data"), signal: of("signal"), order: of("order") })
      }
      return run((bus) => bus.stats)
    },
    close: () => {
      closing ??= runtime.dispose()
      return closing
    }
  }
}
