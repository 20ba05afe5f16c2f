import { Clock, Effect, Schema } from "effect"
import { Candle } from "./Candle.js"
import { ErrorReport } from "./ErrorReport.js"
import { Fill, Order } from "./Order.js"
import { Position } from "./Position.js"
import { Signal } from "./Signal.js"

/** The three queues of the bus, each with its own overflow policy. */
export const QueueName = Schema.Literal("data", "signal", "order")
export type QueueName = typeof QueueName.Type
export const queueNames: ReadonlyArray<QueueName> = ["data", "signal", "order"]

/** Each event type's payload schema: the one table the types, the decoders and the routing derive from. */
export const EventPayloadSchemas = {
  CandleUpdate: Candle,
  CandleClosed: Candle,
  SignalGenerated: Signal,
  OrderCreated: Order,
  OrderPlaced: Order,
  OrderCancelled: Order,
  OrderRejected: Order,
  OrderFilled: Fill,
  PositionUpdated: Position,
  Error: ErrorReport
} as const

type PayloadSchemas = typeof EventPayloadSchemas
export type EventType = keyof PayloadSchemas
export type EventPayload<T extends EventType> = Schema.Schema.Type<PayloadSchemas[T]>
export const eventTypes = Object.keys(EventPayloadSchemas) as ReadonlyArray<EventType>

/**
 * Where an event type goes when `publish` is not told otherwise. `PositionUpdated` is an order event when a fill
 * moved the position; the engine publishes a mark to market (on a candle) on `data` instead, so that no data
 * handler ever waits on the order queue; and an order manager's refusal (`OrderRejected` of an order never
 * created) on `signal`, its own queue.
 */
export const defaultQueue: { readonly [T in EventType]: QueueName } = {
  CandleUpdate: "data",
  CandleClosed: "data",
  SignalGenerated: "signal",
  Error: "signal",
  OrderCreated: "order",
  OrderPlaced: "order",
  OrderCancelled: "order",
  OrderRejected: "order",
  OrderFilled: "order",
  PositionUpdated: "order"
}

/** The envelope of one event of type `T`. */
export interface EventOf<T extends EventType> {
  /** Unique across processes: a random per-process prefix and a counter. */
  readonly id: string
  readonly type: T
  readonly payload: EventPayload<T>
  /** The component that published it. */
  readonly source: string
  /** Milliseconds since the epoch, from Effect's Clock. */
  readonly timestamp: number
}

/** A bus event: a union discriminated by `type`, so narrowing on `type` types the payload. */
export type BusEvent<T extends EventType = EventType> = { readonly [K in T]: EventOf<K> }[T]

const envelopeOf = <T extends EventType>(type: T) =>
  Schema.Struct({
    id: Schema.String,
    type: Schema.Literal(type),
    payload: EventPayloadSchemas[type],
    source: Schema.String,
    timestamp: Schema.Number
  })

/**
 * The wire form of any event (payload decimals as strings), used where
 * events enter from outside: files, the journal, Redis. The in-process bus
 * never decodes.
 */
export const BusEventSchema: Schema.Schema<BusEvent, unknown> = Schema.Union(
  ...eventTypes.map(envelopeOf)
) as unknown as Schema.Schema<BusEvent, unknown> // the mapped union is exactly BusEvent; TS cannot see it through `map`

const idPrefix = Math.floor(Math.random() * 2 ** 48).toString(36)
let idCounter = 0

/** A fresh event id: unique within the process without a syscall or an allocation beyond the string. */
export const nextEventId = (): string => `${idPrefix}-${(++idCounter).toString(36)}`

/** Builds a `BusEvent` with a fresh id and the Clock's time (so TestClock controls it). */
export const makeEvent = <T extends EventType>(
  type: T,
  payload: EventPayload<T>,
  options?: { readonly source?: string }
): Effect.Effect<BusEvent<T>> =>
  Effect.map(Clock.currentTimeMillis, (timestamp) => makeEventAt(type, payload, timestamp, options))

/**
 * An event's object. A class, not an object literal: V8 may decide to allocate all of a literal's objects in
 * the old generation once enough of them outlived a young collection (allocation-site pretenuring), and it
 * did so for events early in some backtests. An old event keeps its young candle alive until the next full
 * collection, so every candle was promoted: a million candles ran some 7% slower and peaked 100 MiB higher
 * in those runs. Objects made by `new` are never pretenured.
 */
class EventRecord {
  // declared, not defined (a defined field starts as undefined: V8 then keeps the timestamp boxed in a generic field)
  declare readonly id: string
  declare readonly type: EventType
  declare readonly payload: unknown
  declare readonly source: string
  declare readonly timestamp: number
  constructor(id: string, type: EventType, payload: unknown, source: string, timestamp: number) {
    this.id = id
    this.type = type
    this.payload = payload
    this.source = source
    this.timestamp = timestamp
  }
}

/** `makeEvent` with an explicit timestamp, for code that already read the clock. */
export const makeEventAt = <T extends EventType>(
  type: T,
  payload: EventPayload<T>,
  timestamp: number,
  options?: { readonly source?: string }
): BusEvent<T> =>
  // the record has exactly the envelope's fields; TS cannot tie its `type` to its payload's
  new EventRecord(nextEventId(), type, payload, options?.source ?? "unknown", timestamp) as unknown as BusEvent<T>
