import { Args, Command, Options } from "@effect/cli"
import { SqlClient } from "@effect/sql"
import { Console, Effect, Layer, Option } from "effect"
import { nextEventId } from "../domain/BusEvent.js"
import * as SqliteDeadLetters from "../layers/journal/SqliteDeadLetters.js"
import * as SqliteJournal from "../layers/journal/SqliteJournal.js"
import { type DeadLetter, DeadLetters, type UndecodableLetter } from "../services/DeadLetters.js"
import { Journal } from "../services/Journal.js"
import { ConfigurationError } from "./ConfigurationError.js"
import { runFlags } from "./RunOptions.js"

/** One dead letter as `dlq list --json` prints it (the event encoded with BusEventSchema). */
export interface DeadLetterView {
  readonly id: number
  readonly handler: string
  readonly queue: string
  readonly attempts: number
  readonly failedAt: number
  readonly eventId: string
  readonly eventType: string
  readonly cause: string
  /** Only for an event that cannot be decoded: its payload exactly as the journal held it (it cannot be retried). */
  readonly raw?: string
}

const rawViewOf = (letter: UndecodableLetter): DeadLetterView => ({
  id: letter.id,
  handler: letter.handler,
  queue: letter.queue,
  attempts: 0,
  failedAt: letter.failedAt,
  eventId: letter.eventId,
  eventType: letter.eventType,
  cause: letter.cause,
  raw: letter.raw
})

const viewOf = (letter: DeadLetter): DeadLetterView => ({
  id: letter.id,
  handler: letter.handler,
  queue: letter.queue,
  attempts: letter.attempts,
  failedAt: letter.failedAt,
  eventId: letter.event.id,
  eventType: letter.event.type,
  cause: letter.cause
})

const firstLine = (text: string) => text.split("\n").find((l) => l.trim() !== "")?.trim() ?? ""

/** The dead letters as a table, one line each (the Cause's first line), with a count at the end. */
export const formatDeadLetters = (letters: ReadonlyArray<DeadLetterView>, location: string): string => {
  if (letters.length === 0) return `no dead letters in the journal ${location}`
  const rows = letters.map((l) => [
    String(l.id),
    l.handler,
    l.queue,
    String(l.attempts),
    new Date(l.failedAt).toISOString(),
    `${l.eventType} ${l.eventId}`,
    firstLine(l.cause)
  ])
  const header = ["ID", "HANDLER", "QUEUE", "ATTEMPTS", "FAILED AT", "EVENT", "CAUSE"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(header), ...rows.map(line), `${letters.length} dead letters`].join("\n")
}

export const listDeadLetters = (options: { readonly json: boolean }) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const deadLetters = yield* DeadLetters
    const letters = [...(yield* deadLetters.list).map(viewOf), ...(yield* deadLetters.undecodable).map(rawViewOf)]
      .sort((a, b) => a.id - b.id)
    yield* Console.log(options.json ? JSON.stringify(letters, null, 2) : formatDeadLetters(letters, journal.location))
  })

/**
 * Writes a dead letter's event back into the journal as pending (a new event id, on the `order` queue: the
 * journaled one, so that it is marked done once handled) and deletes the dead letter, in one transaction. The
 * next `trading-bus run` on this journal publishes it again before its source starts; an OrderCreated whose
 * outcome is journaled meanwhile is not executed twice (JournalRecovery, JournaledBroker).
 */
export const retryDeadLetter = (id: number) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const deadLetters = yield* DeadLetters
    const sql = yield* SqlClient.SqlClient
    const letter = yield* deadLetters.get(id)
    if (Option.isNone(letter) && (yield* deadLetters.undecodable).some((l) => l.id === id)) {
      return yield* Effect.fail(new ConfigurationError({
        flag: "<id>",
        value: id,
        reason: "this dead letter holds an event that cannot be decoded, so it cannot be published again: its raw text is in trading-bus dlq list --json; purge it once looked at"
      }))
    }
    if (Option.isNone(letter)) {
      return yield* Effect.fail(new ConfigurationError({ flag: "<id>", value: id, reason: "no dead letter has this id (see trading-bus dlq list)" }))
    }
    const event = { ...letter.value.event, id: nextEventId() }
    yield* sql.withTransaction(Effect.zipRight(journal.append(event, "order"), deadLetters.remove(id)))
    yield* Console.log(
      `dead letter #${id} (${event.type} ${letter.value.event.id}) is pending in the journal ${journal.location} as ${event.id}: the next trading-bus run on it publishes it again`
    )
  })

export const purgeDeadLetters = Effect.gen(function*() {
  const journal = yield* Journal
  const count = yield* (yield* DeadLetters).purge
  yield* Console.log(`purged ${count} dead letters from the journal ${journal.location}`)
})

const journalOption = runFlags.journal

/** The journal file with its dead letters; it must exist and not be in use by a running trading-bus. */
const storeLayer = (filename: string) =>
  SqliteDeadLetters.layer.pipe(Layer.provideMerge(SqliteJournal.layerWithSql({ filename, mustExist: true })))

const listCommand = Command.make(
  "list",
  { journal: journalOption, json: Options.boolean("json").pipe(Options.withDescription("Print them as a JSON array")) },
  ({ journal, json }) => listDeadLetters({ json }).pipe(Effect.provide(storeLayer(journal)))
).pipe(Command.withDescription("List the dead letters: events whose handler failed on every retry"))

const retryCommand = Command.make(
  "retry",
  { journal: journalOption, id: Args.integer({ name: "id" }).pipe(Args.withDescription("The dead letter's id")) },
  ({ id, journal }) => retryDeadLetter(id).pipe(Effect.provide(storeLayer(journal)))
).pipe(Command.withDescription(
  "Put a dead letter's event back in the journal as pending: the next trading-bus run publishes it again"
))

const purgeCommand = Command.make(
  "purge",
  { journal: journalOption },
  ({ journal }) => purgeDeadLetters.pipe(Effect.provide(storeLayer(journal)))
).pipe(Command.withDescription("Delete every dead letter"))

/** `trading-bus dlq list|retry <id>|purge [--journal F] [--json]`. */
export const dlqCommand = Command.make("dlq").pipe(
  Command.withDescription("The dead letters in the journal (the journal must not be in use by a running trading-bus)"),
  Command.withSubcommands([listCommand, retryCommand, purgeCommand])
)
