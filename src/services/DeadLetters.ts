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

/**
 * Where events go whose handler failed on every retry, to be looked at,
 * published again (`trading-bus dlq retry`) or purged.
 */
export class DeadLetters extends Context.Tag("trading-bus/DeadLetters")<DeadLetters, {
  /** Stores a dead letter, committed when this succeeds; returns its id. */
  readonly add: (letter: DeadLetterInput) => Effect.Effect<number, JournalError>
  /** Every dead letter, oldest first. */
  readonly list: Effect.Effect<ReadonlyArray<DeadLetter>, JournalError>
  readonly get: (id: number) => Effect.Effect<Option.Option<DeadLetter>, JournalError>
  /** Deletes one; false when there was no such id. */
  readonly remove: (id: number) => Effect.Effect<boolean, JournalError>
  /** Deletes them all; returns how many there were. */
  readonly purge: Effect.Effect<number, JournalError>
}>() {}
