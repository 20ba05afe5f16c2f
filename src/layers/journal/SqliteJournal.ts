import { SqlClient, type SqlError } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Chunk, Context, Data, Duration, Effect, Either, Layer, Option, Schema, Stream } from "effect"
import { existsSync, mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { type BusEvent, BusEventSchema, EventPayloadSchemas, type EventType, type QueueName } from "../../domain/BusEvent.js"
import { parseReason } from "../../domain/ParseReason.js"
import {
  type AppendOptions,
  type CandleSeries,
  EventLog,
  Journal,
  type JournalEntry,
  JournalError,
  type OrderOutcome,
  type RecordedQuery,
  type UndecodableEntry
} from "../../services/Journal.js"

/** Where `trading-bus run` keeps its journal unless told otherwise. */
export const defaultFilename = "./data/trading-bus.db"

/** The journal's schema version, kept in `PRAGMA user_version`; a file with a higher one is refused. */
export const schemaVersion = 1

/** A journal file the program cannot start with; `option` names the flag (`--journal`). */
export class JournalConfigError extends Data.TaggedError("JournalConfigError")<{
  readonly option: string
  readonly value: unknown
  readonly reason: string
}> {
  override get message() {
    return `cannot use the journal ${String(this.value)}: ${this.reason}`
  }
}

export interface SqliteJournalOptions {
  /** The SQLite file, created with its folder if missing; ":memory:" for a journal that dies with the process. */
  readonly filename: string
  /**
   * "normal" (the default): a commit survives a crash of the process (SIGKILL), not of the machine, and costs
   * no fsync; "full": every commit is fsynced, surviving a power loss too.
   */
  readonly synchronous?: "normal" | "full"
  /** How long to wait for a lock another process holds before failing. Default 2 seconds. */
  readonly busyTimeout?: Duration.DurationInput
  /** Fail instead of creating the file when it does not exist (for readers such as `trading-bus orders`). */
  readonly mustExist?: boolean
}

const orderTypes = ["OrderCreated", "OrderPlaced", "OrderCancelled", "OrderRejected", "OrderFilled"]

const createSchema = [
  `CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    queue TEXT NOT NULL,
    client_order_id TEXT,
    source TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    payload TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
  )`,
  "CREATE INDEX events_pending ON events (seq) WHERE done = 0",
  "CREATE INDEX events_order ON events (client_order_id, type) WHERE client_order_id IS NOT NULL",
  `PRAGMA user_version = ${schemaVersion}`
]

/**
 * Reads by type (the recorded candles, the orders) without scanning a recorded log. Added after version 1 shipped
 * without changing the table: a writer creates it on older files, readers do without it, older versions ignore it.
 */
const typeIndex = "CREATE INDEX IF NOT EXISTS events_type ON events (type, seq)"

const describe = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** What to tell the user about a SQLite error met while opening the file. */
const reasonOf = (error: unknown): string => {
  const cause = (error as { cause?: unknown }).cause ?? error
  const code = (cause as { code?: unknown }).code
  switch (code) {
    case "SQLITE_BUSY":
    case "SQLITE_LOCKED":
      return "it is locked by another process (another trading-bus run on the same journal?): stop that process, or give this one another --journal"
    case "SQLITE_NOTADB":
    case "SQLITE_CORRUPT":
      return "it is not a readable SQLite database (corrupt, or another kind of file): move it away to start a new journal, or give another --journal"
    default:
      return `cannot open it (${describe(cause)}): check the path and its permissions, or give another --journal`
  }
}

interface Row {
  readonly seq: number
  readonly id: string
  readonly type: string
  readonly queue: string
  readonly source: string
  readonly timestamp: number
  readonly payload: string
  readonly done: number
}

const decodeEvent = Schema.decodeUnknown(BusEventSchema)
const encoders = Object.fromEntries(
  Object.entries(EventPayloadSchemas).map(([type, schema]) => [type, Schema.encodeSync(schema as Schema.Schema<unknown, unknown>)])
) as Record<EventType, (payload: unknown) => unknown>

/** Decodes a row; a row that cannot be decoded is returned as it is, with the reason. */
const decodeRow = (row: Row): Effect.Effect<Either.Either<JournalEntry, UndecodableEntry>> =>
  Effect.try(() => JSON.parse(row.payload) as unknown).pipe(
    Effect.flatMap((payload) =>
      decodeEvent({ id: row.id, type: row.type, payload, source: row.source, timestamp: row.timestamp })
    ),
    Effect.match({
      onSuccess: (event) => Either.right({ seq: row.seq, event, queue: row.queue as QueueName, done: row.done !== 0 }),
      onFailure: (error) =>
        Either.left({
          seq: row.seq,
          id: row.id,
          type: row.type,
          queue: row.queue,
          payload: row.payload,
          done: row.done !== 0,
          // an UnknownException wraps JSON.parse's SyntaxError; a ParseError says which field is wrong
          reason: (error._tag === "UnknownException" ? describe(error.error) : parseReason(error)).split("\n").join(" ")
        })
    })
  )

/** Strict: a row that cannot be decoded fails the read (the recorded log, an order's outcome). */
const toEntry = (row: Row): Effect.Effect<JournalEntry, JournalError> =>
  Effect.flatMap(decodeRow(row), Either.match({
    onRight: Effect.succeed,
    onLeft: (bad) => Effect.fail(new JournalError({ operation: `decode event ${row.id}`, cause: new Error(bad.reason) }))
  }))

/** Lenient: the rows that decode, in order (the others are `undecodable`'s). */
const decodable = (rows: ReadonlyArray<Row>): Effect.Effect<ReadonlyArray<JournalEntry>> =>
  Effect.map(Effect.forEach(rows, decodeRow), (decoded) => decoded.flatMap(Either.match({ onLeft: () => [], onRight: (e) => [e] })))

/** Opens the file, takes it for this process alone, and checks or creates the schema. */
const open = (options: SqliteJournalOptions) =>
  Effect.gen(function*() {
    const filename = options.filename
    const refuse = (reason: string) => new JournalConfigError({ option: "journal", value: filename, reason })
    if (filename !== ":memory:") {
      if (options.mustExist === true && !existsSync(filename)) {
        return yield* Effect.fail(refuse("there is no such file: check the path (trading-bus run creates the journal)"))
      }
      yield* Effect.try({
        try: () => mkdirSync(dirname(filename), { recursive: true }),
        catch: (cause) => refuse(`cannot create its folder: ${describe(cause)}`)
      })
    }
    // better-sqlite3 throws from its constructor (a directory, a missing folder): a defect of the client's layer
    const context = yield* Layer.build(SqliteClient.layer({ filename, disableWAL: true })).pipe(
      Effect.catchAllCause((cause) => Effect.fail(refuse(reasonOf(Cause.squash(cause)))))
    )
    const sql = Context.get(context, SqlClient.SqlClient)
    const busyMillis = Math.round(Duration.toMillis(Duration.decode(options.busyTimeout ?? "2 seconds")))
    const setup = Effect.gen(function*() {
      yield* sql.unsafe(`PRAGMA busy_timeout = ${busyMillis}`)
      // one process owns the journal: two runs recovering the same events would execute them twice
      yield* sql.unsafe("PRAGMA locking_mode = EXCLUSIVE")
      yield* sql.unsafe("PRAGMA journal_mode = WAL")
      yield* sql.unsafe(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`)
      yield* sql.unsafe("BEGIN EXCLUSIVE")
      yield* sql.unsafe("COMMIT")
      const [row] = yield* sql.unsafe<{ user_version: number }>("PRAGMA user_version")
      const version = row?.user_version ?? 0
      if (version > schemaVersion) {
        return yield* Effect.fail(refuse(
          `it was written by a newer trading-bus (journal schema version ${version}, this one reads up to ${schemaVersion}): upgrade trading-bus, or give another --journal`
        ))
      }
      if (version >= 1) {
        const [events] = yield* sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'events'`
        if (events?.n === 0) {
          return yield* Effect.fail(refuse(
            "it is a trading-bus journal whose table events is missing (dropped, or the file is damaged): its orders cannot be read or recovered: move the file away to start a new journal (keep it if you need its dead_letters), or give another --journal"
          ))
        }
      }
      if (version === 0) {
        const tables = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
        if (tables.length > 0) {
          return yield* Effect.fail(refuse(
            `it is a SQLite database but not a trading-bus journal (tables ${tables.map((t) => t.name).join(", ")}): give another --journal`
          ))
        }
        yield* sql.withTransaction(Effect.forEach(createSchema, (statement) => sql.unsafe(statement), { discard: true }))
      }
      // readers (mustExist) leave the file as it is
      if (options.mustExist !== true || version === 0) yield* sql.unsafe(typeIndex)
    })
    yield* setup.pipe(
      Effect.catchAll((error: SqlError.SqlError | JournalConfigError) =>
        Effect.fail(error._tag === "JournalConfigError" ? error : refuse(reasonOf(error)))
      )
    )
    return sql
  })

const make = (options: SqliteJournalOptions) =>
  Effect.gen(function*() {
    const sql = yield* open(options)
    const failWith = (operation: string) => (cause: unknown) => new JournalError({ operation, cause })
    const columns = sql.unsafe("seq, id, type, queue, source, timestamp, payload, done")
    const entries = (rows: ReadonlyArray<Row>) => Effect.forEach(rows, toEntry)

    const append = (event: BusEvent, queue: QueueName, appendOptions?: AppendOptions) =>
      Effect.suspend(() => {
        const payload = JSON.stringify(encoders[event.type](event.payload))
        const clientOrderId = (event.payload as { readonly clientOrderId?: unknown }).clientOrderId
        const order = typeof clientOrderId === "string" ? clientOrderId : null
        const done = appendOptions?.done === true ? 1 : 0
        const values = sql`${event.id}, ${event.type}, ${queue}, ${order}, ${event.source}, ${event.timestamp}, ${payload}, ${done}`
        const insert = "INSERT INTO events (id, type, queue, client_order_id, source, timestamp, payload, done)"
        // a recorded outcome returned again (see JournaledBroker) is the same fact: one row per fill, one rejection
        const statement = event.type === "OrderFilled"
          ? sql`${sql.unsafe(insert)} SELECT ${values} WHERE NOT EXISTS (
              SELECT 1 FROM events WHERE client_order_id = ${order} AND type = 'OrderFilled' AND payload = ${payload}
            ) ON CONFLICT (id) DO NOTHING`
          : event.type === "OrderRejected"
          ? sql`${sql.unsafe(insert)} SELECT ${values} WHERE NOT EXISTS (
              SELECT 1 FROM events WHERE client_order_id = ${order} AND type = 'OrderRejected'
            ) ON CONFLICT (id) DO NOTHING`
          : sql`${sql.unsafe(insert)} VALUES (${values}) ON CONFLICT (id) DO NOTHING`
        return statement
      }).pipe(Effect.asVoid, Effect.mapError(failWith(`append ${event.type} ${event.id}`)))

    const recorded = (query: RecordedQuery = {}) => {
      const pageSize = Math.max(1, Math.floor(query.pageSize ?? 1000))
      const conditions = [
        ...(query.types !== undefined ? [sql`type IN ${sql.in(query.types)}`] : []),
        ...(query.symbol !== undefined ? [sql`upper(json_extract(payload, '$.symbol')) = ${query.symbol.toUpperCase()}`] : []),
        ...(query.interval !== undefined ? [sql`json_extract(payload, '$.interval') = ${query.interval}`] : []),
        ...(query.queue !== undefined ? [sql`queue = ${query.queue}`] : [])
      ]
      // keyset pages: each query starts after the last seq read, so a page costs the same anywhere in the log
      const page = (after: number) =>
        sql<Row>`SELECT ${columns} FROM events WHERE seq > ${after} AND ${sql.and(conditions)} ORDER BY seq LIMIT ${pageSize}`.pipe(
          Effect.mapError(failWith("read the recorded events")),
          Effect.flatMap(entries),
          Effect.map((read) =>
            [
              Chunk.unsafeFromArray(read),
              read.length < pageSize ? Option.none() : Option.some(read[read.length - 1]!.seq)
            ] as const
          )
        )
      return query.types !== undefined && query.types.length === 0
        ? Stream.empty
        : Stream.paginateChunkEffect(query.afterSeq ?? 0, page)
    }

    const log = EventLog.of({
      location: options.filename,
      recorded,
      candleSeries: sql<{ symbol: unknown; interval: unknown; candles: number; first_seq: number }>`
        SELECT json_extract(payload, '$.symbol') AS symbol, json_extract(payload, '$.interval') AS interval,
          count(*) AS candles, min(seq) AS first_seq
        FROM events WHERE type = 'CandleClosed' GROUP BY 1, 2 ORDER BY first_seq`.pipe(
        Effect.mapError(failWith("read the recorded candle series")),
        Effect.map((rows) =>
          rows.map((row): CandleSeries => ({
            symbol: String(row.symbol),
            interval: String(row.interval),
            candles: row.candles,
            firstSeq: row.first_seq
          }))
        )
      )
    })

    return { sql, log, journal: Journal.of({
      location: options.filename,
      append,
      markDone: (eventId) =>
        sql`UPDATE events SET done = 1 WHERE id = ${eventId}`.pipe(
          Effect.asVoid,
          Effect.mapError(failWith(`mark ${eventId} done`))
        ),
      pending: sql<Row>`SELECT ${columns} FROM events WHERE done = 0 ORDER BY seq`.pipe(
        Effect.mapError(failWith("read the pending events")),
        Effect.flatMap(decodable)
      ),
      outcomeOf: (clientOrderId) =>
        sql<Row>`SELECT ${columns} FROM events
          WHERE client_order_id = ${clientOrderId} AND (type IN ('OrderRejected', 'OrderCancelled') OR
            (type = 'OrderFilled' AND json_extract(payload, '$.status') = 'FILLED'))
          ORDER BY seq LIMIT 1`.pipe(
          Effect.mapError(failWith(`look up the outcome of ${clientOrderId}`)),
          Effect.flatMap(entries),
          Effect.map((found) => Option.map(Option.fromNullable(found[0]), (e) => e.event as OrderOutcome))
        ),
      orderEvents: sql<Row>`SELECT ${columns} FROM events WHERE type IN ${sql.in(orderTypes)} ORDER BY seq`.pipe(
        Effect.mapError(failWith("read the order events")),
        Effect.flatMap(decodable)
      ),
      undecodable: sql<Row>`SELECT ${columns} FROM events WHERE done = 0 OR type IN ${sql.in(orderTypes)} ORDER BY seq`.pipe(
        Effect.mapError(failWith("read the order events")),
        Effect.flatMap((rows) => Effect.forEach(rows, decodeRow)),
        Effect.map((decoded) => decoded.flatMap(Either.match({ onLeft: (bad) => [bad], onRight: () => [] })))
      )
    }) }
  })

/**
 * The journal in a SQLite file (WAL mode, held by this process alone while
 * the layer lives), as the `Journal` and as its `EventLog`. Fails with
 * `JournalConfigError` when the file is locked by another process, is not a
 * SQLite database, belongs to something else, or was written by a newer
 * schema version.
 */
export const layer = (options: SqliteJournalOptions): Layer.Layer<Journal | EventLog, JournalConfigError> =>
  Layer.scopedContext(Effect.map(make(options), ({ journal, log }) => Context.make(Journal, journal).pipe(Context.add(EventLog, log))))

/**
 * `layer`, also providing the SqlClient that holds the file (exclusively), so that other tables of the same
 * file (the dead letters: `SqliteDeadLetters`) share its connection and its transactions.
 */
export const layerWithSql = (
  options: SqliteJournalOptions
): Layer.Layer<Journal | EventLog | SqlClient.SqlClient, JournalConfigError> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ journal, log, sql }) =>
      Context.make(Journal, journal).pipe(Context.add(EventLog, log), Context.add(SqlClient.SqlClient, sql)))
  )
