import { Context, type Effect, type Option } from "effect"
import type { BusEvent, QueueName } from "../domain/BusEvent.js"
import type { JournalError } from "./Journal.js"

/** What a dead letter records about an event whose handler exhausted its retries. */
export interface DeadLetterInput {
  /** The handler's name (as subscribed), such as "broker". */
  readonly handler: string
  readonly queue: QueueName
  /** How many times the handler ran on the event. */
  readonly attempts: number
  /** The last failure's Cause, pretty-printed. */
  readonly cause: string
  readonly event: BusEvent
  /** When it was given up (Clock millis). */
  readonly failedAt: number
}

/** One stored dead letter. */
export interface DeadLetter extends DeadLetterInput {
  /** Increasing; the `dlq retry <id>` argument. */
  readonly id: number
}

/** An event that cannot be decoded (a damaged journal row), kept as its raw text. */
export interface UndecodableLetterInput {
  /** Who gave it up, such as "journal-recovery". */
  readonly handler: string
  readonly queue: string
  /** Why it cannot be decoded. */
  readonly cause: string
  readonly eventId: string
  readonly eventType: string
  /** The event's payload exactly as it was stored. */
  readonly raw: string
  readonly failedAt: number
}

/** One stored dead letter whose event cannot be decoded: it can be looked at and purged, not retried. */
export interface UndecodableLetter extends UndecodableLetterInput {
  readonly id: number
}

/**
 * Where events go whose handler failed on every retry, to be looked at,
 * published again (`trading-bus dlq retry`) or purged.
 */
export class DeadLetters extends Context.Tag("trading-bus/DeadLetters")<DeadLetters, {
  /** Stores a dead letter, committed when this succeeds; returns its id. */
  readonly add: (letter: DeadLetterInput) => Effect.Effect<number, JournalError>
  /** Stores an event that cannot be decoded, with its raw text; returns its id. */
  readonly addUndecodable: (letter: UndecodableLetterInput) => Effect.Effect<number, JournalError>
  /** Every dead letter whose event decodes, oldest first. */
  readonly list: Effect.Effect<ReadonlyArray<DeadLetter>, JournalError>
  /** The dead letters whose event cannot be decoded (stored by `addUndecodable`, or damaged since), oldest first. */
  readonly undecodable: Effect.Effect<ReadonlyArray<UndecodableLetter>, JournalError>
  /** A dead letter whose event decodes (see `undecodable` for the others). */
  readonly get: (id: number) => Effect.Effect<Option.Option<DeadLetter>, JournalError>
  /** Deletes one; false when there was no such id. */
  readonly remove: (id: number) => Effect.Effect<boolean, JournalError>
  /** Deletes them all; returns how many there were. */
  readonly purge: Effect.Effect<number, JournalError>
}>() {}
