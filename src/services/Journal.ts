import { Context, Data, type Effect, type Option, type Stream } from "effect"
import type { BusEvent, EventType, QueueName } from "../domain/BusEvent.js"

/** A journal read or write failed (I/O, a locked or damaged file). */
export class JournalError extends Data.TaggedError("JournalError")<{
  /** What the journal was doing, such as "append OrderCreated a1-2f". */
  readonly operation: string
  readonly cause: unknown
}> {
  /** The driver's error code under the SQL client's wrapper, such as "SQLITE_FULL". */
  get code(): string | undefined {
    for (let e: unknown = this.cause; typeof e === "object" && e !== null; e = (e as { cause?: unknown }).cause) {
      const code = (e as { code?: unknown }).code
      if (typeof code === "string") return code
    }
    return undefined
  }

  override get message() {
    const root = rootMessage(this.cause)
    return this.code === "SQLITE_FULL"
      ? `the journal failed to ${this.operation}: the disk is full (${root}): nothing was published; new orders are refused until the journal can write again: free disk space`
      : `the journal failed to ${this.operation}: ${root}`
  }
}

/** The innermost error's message: the SQL client wraps the driver's error in a generic one. */
const rootMessage = (cause: unknown): string => {
  let message = cause instanceof Error ? cause.message : String(cause)
  for (let e: unknown = cause; typeof e === "object" && e !== null; e = (e as { cause?: unknown }).cause) {
    if (e instanceof Error && e.message !== "") message = e.message
  }
  return message
}

/** One journaled event. */
export interface JournalEntry {
  /** The append order, increasing. */
  readonly seq: number
  readonly event: BusEvent
  readonly queue: QueueName
  /** Its handlers ran (successfully or not), or it was recorded as done (an event-log entry, never recovered). */
  readonly done: boolean
}

/**
 * A journaled row whose event cannot be decoded (a damaged file, a payload from an incompatible version):
 * the reads leave it out, and recovery moves it to the dead letters with its raw text rather than fail.
 */
export interface UndecodableEntry {
  readonly seq: number
  readonly id: string
  /** As stored (it may not be an event type either). */
  readonly type: string
  readonly queue: string
  /** The payload column exactly as stored. */
  readonly payload: string
  readonly done: boolean
  /** Why it cannot be decoded. */
  readonly reason: string
}

/** The event that settled an order: its (last) fill, its rejection or its cancellation. */
export type OrderOutcome = BusEvent<"OrderFilled" | "OrderRejected" | "OrderCancelled">

export interface AppendOptions {
  /**
   * Append it as done already: an event-log entry (`trading-bus run --record`) that recovery never publishes
   * again. Default false: a write-ahead entry, not done until `markDone`.
   */
  readonly done?: boolean
}

/**
 * A durable, ordered record of the events bound for the bus's `order` queue:
 * appended before they enter the queue (write-ahead), marked done once their
 * handlers ran, so that what a crash interrupted can be published again.
 * With recording on, the events of the other queues are appended too, done.
 */
export class Journal extends Context.Tag("trading-bus/Journal")<Journal, {
  /** Where it lives (a file path or ":memory:"), for messages. */
  readonly location: string
  /**
   * Appends an event, not done unless `options.done`, committed when this succeeds. Idempotent on
   * the event id; an `OrderFilled` or `OrderRejected` whose payload is already
   * journaled for its order (a recorded outcome returned again) is not
   * appended twice.
   */
  readonly append: (event: BusEvent, queue: QueueName, options?: AppendOptions) => Effect.Effect<void, JournalError>
  /** Marks an event done; unknown ids are ignored. */
  readonly markDone: (eventId: string) => Effect.Effect<void, JournalError>
  /** The events not done, in append order (those that cannot be decoded are left out: see `undecodable`). */
  readonly pending: Effect.Effect<ReadonlyArray<JournalEntry>, JournalError>
  /** The first journaled outcome of an order (a `FILLED` fill, a rejection, a cancellation), if any. */
  readonly outcomeOf: (clientOrderId: string) => Effect.Effect<Option.Option<OrderOutcome>, JournalError>
  /** Every journaled event about an order (`Order*`), in append order (undecodable ones left out). */
  readonly orderEvents: Effect.Effect<ReadonlyArray<JournalEntry>, JournalError>
  /** The rows `pending` and `orderEvents` leave out because they cannot be decoded, in append order. */
  readonly undecodable: Effect.Effect<ReadonlyArray<UndecodableEntry>, JournalError>
}>() {}

/** Which recorded events to read; every given condition must hold. */
export interface RecordedQuery {
  readonly types?: ReadonlyArray<EventType>
  /** The payload's `symbol` (candles, signals, orders, fills, positions), case-insensitive. */
  readonly symbol?: string
  /** The payload's `interval` (candles). */
  readonly interval?: string
  readonly queue?: QueueName
  /** Only entries after this seq (to resume a read). */
  readonly afterSeq?: number
  /** Rows fetched per query. Default 1000. */
  readonly pageSize?: number
}

/** The recorded closed candles of one symbol and interval. */
export interface CandleSeries {
  /** As recorded (upper case). */
  readonly symbol: string
  readonly interval: string
  readonly candles: number
  /** The seq of its first recorded candle: series are listed in the order they started. */
  readonly firstSeq: number
}

/**
 * The journal read as an event log: everything `trading-bus run --record`
 * appended, in append order. A separate port from `Journal`, which the bus's
 * write path needs, so that the write side stays small.
 */
export class EventLog extends Context.Tag("trading-bus/EventLog")<EventLog, {
  /** Where it lives (a file path or ":memory:"), for messages. */
  readonly location: string
  /** The entries matching `query`, in seq order, read a page at a time (the log can be large). */
  readonly recorded: (query?: RecordedQuery) => Stream.Stream<JournalEntry, JournalError>
  /** The symbols and intervals of the recorded `CandleClosed` events, with their counts. */
  readonly candleSeries: Effect.Effect<ReadonlyArray<CandleSeries>, JournalError>
}>() {}
