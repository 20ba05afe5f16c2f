import { SqlClient } from "@effect/sql"
import { Effect, Either, Layer, Schema } from "effect"
import { BusEventSchema, type QueueName } from "../../domain/BusEvent.js"
import { type DeadLetter, DeadLetters, type UndecodableLetter } from "../../services/DeadLetters.js"
import { JournalError } from "../../services/Journal.js"

const createTable = `CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  handler TEXT NOT NULL,
  queue TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  cause TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  event TEXT NOT NULL,
  failed_at INTEGER NOT NULL
)`

interface Row {
  readonly id: number
  readonly handler: string
  readonly queue: string
  readonly attempts: number
  readonly cause: string
  readonly event_id: string
  readonly event_type: string
  readonly event: string
  readonly failed_at: number
}

const encodeEvent = Schema.encode(BusEventSchema)
const decodeEvent = Schema.decodeUnknown(BusEventSchema)

/** A row as a letter, or, when its event does not decode, as an undecodable letter with the raw text. */
const toLetter = (row: Row): Effect.Effect<Either.Either<DeadLetter, UndecodableLetter>> =>
  Effect.try(() => JSON.parse(row.event) as unknown).pipe(
    Effect.flatMap((json) => decodeEvent(json)),
    Effect.match({
      onSuccess: (event) =>
        Either.right({
          id: row.id,
          handler: row.handler,
          queue: row.queue as QueueName,
          attempts: row.attempts,
          cause: row.cause,
          event,
          failedAt: row.failed_at
        }),
      onFailure: () =>
        Either.left({
          id: row.id,
          handler: row.handler,
          queue: row.queue,
          cause: row.cause,
          eventId: row.event_id,
          eventType: row.event_type,
          raw: row.event,
          failedAt: row.failed_at
        })
    })
  )

const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* Effect.orDie(sql.unsafe(createTable))
  const failWith = (operation: string) => (cause: unknown) =>
    cause instanceof JournalError ? cause : new JournalError({ operation, cause })
  const columns = sql.unsafe("id, handler, queue, attempts, cause, event_id, event_type, event, failed_at")
  const all = sql<Row>`SELECT ${columns} FROM dead_letters ORDER BY id`.pipe(
    Effect.mapError(failWith("read the dead letters")),
    Effect.flatMap((rows) => Effect.forEach(rows, toLetter))
  )
  return DeadLetters.of({
    add: (letter) =>
      encodeEvent(letter.event).pipe(
        Effect.flatMap((encoded) =>
          sql<{ id: number }>`INSERT INTO dead_letters (handler, queue, attempts, cause, event_id, event_type, event, failed_at)
            VALUES (${letter.handler}, ${letter.queue}, ${letter.attempts}, ${letter.cause}, ${letter.event.id},
              ${letter.event.type}, ${JSON.stringify(encoded)}, ${letter.failedAt}) RETURNING id`
        ),
        Effect.map((rows) => rows[0]!.id),
        Effect.mapError(failWith(`store a dead letter of ${letter.event.type} ${letter.event.id}`))
      ),
    // the raw text in the event column: it never decodes, so it reads back as an undecodable letter
    addUndecodable: (letter) =>
      sql<{ id: number }>`INSERT INTO dead_letters (handler, queue, attempts, cause, event_id, event_type, event, failed_at)
        VALUES (${letter.handler}, ${letter.queue}, 0, ${letter.cause}, ${letter.eventId}, ${letter.eventType},
          ${letter.raw}, ${letter.failedAt}) RETURNING id`.pipe(
        Effect.map((rows) => rows[0]!.id),
        Effect.mapError(failWith(`store the undecodable event ${letter.eventType} ${letter.eventId} as a dead letter`))
      ),
    list: Effect.map(all, (letters) => letters.flatMap(Either.match({ onLeft: () => [], onRight: (l) => [l] }))),
    undecodable: Effect.map(all, (letters) => letters.flatMap(Either.match({ onLeft: (l) => [l], onRight: () => [] }))),
    get: (id) =>
      sql<Row>`SELECT ${columns} FROM dead_letters WHERE id = ${id}`.pipe(
        Effect.mapError(failWith(`read dead letter ${id}`)),
        Effect.flatMap((rows) => rows.length === 0 ? Effect.succeedNone : Effect.map(toLetter(rows[0]!), Either.getRight))
      ),
    remove: (id) =>
      sql<{ id: number }>`DELETE FROM dead_letters WHERE id = ${id} RETURNING id`.pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.mapError(failWith(`delete dead letter ${id}`))
      ),
    purge: sql<{ id: number }>`DELETE FROM dead_letters RETURNING id`.pipe(
      Effect.map((rows) => rows.length),
      Effect.mapError(failWith("purge the dead letters"))
    )
  })
})

/**
 * The dead letters in a `dead_letters` table of the journal's SQLite file,
 * on the journal's own connection (it holds the file exclusively): provide
 * it with `SqliteJournal.layerWithSql`. Creates the table if missing (the
 * journal's schema version does not change: older runs ignore the table).
 */
export const layer: Layer.Layer<DeadLetters, never, SqlClient.SqlClient> = Layer.effect(DeadLetters, make)

