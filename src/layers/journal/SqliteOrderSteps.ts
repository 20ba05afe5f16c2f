import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { Fill } from "../../domain/Order.js"
import { JournalError } from "../../services/Journal.js"
import { type OrderStep, type OrderStepKind, OrderSteps } from "../../services/OrderSteps.js"

/** Added beside `events` without a schema version: older versions ignore the table, newer ones create it. */
const createTable = `CREATE TABLE IF NOT EXISTS order_steps (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  client_order_id TEXT NOT NULL,
  step TEXT NOT NULL,
  at INTEGER NOT NULL,
  detail TEXT
)`
const createIndex = "CREATE INDEX IF NOT EXISTS order_steps_order ON order_steps (client_order_id, seq)"

const decodeFill = Schema.decodeUnknown(Schema.parseJson(Fill))

/**
 * `OrderSteps` in the journal's file, on its connection (the journal holds the file exclusively): provide it
 * with `SqliteJournal.layerWithSql`. Each step is committed before `record` returns.
 */
export const layer: Layer.Layer<OrderSteps, JournalError, SqlClient.SqlClient> = Layer.effect(
  OrderSteps,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const failWith = (operation: string) => (cause: unknown) => new JournalError({ operation, cause })
    yield* sql.unsafe(createTable).pipe(Effect.zipRight(sql.unsafe(createIndex)), Effect.mapError(failWith("create the order_steps table")))
    return OrderSteps.of({
      record: (step) =>
        sql`INSERT INTO order_steps (client_order_id, step, at, detail)
          VALUES (${step.clientOrderId}, ${step.step}, ${step.at}, ${step.detail ?? null})`.pipe(
          Effect.asVoid,
          Effect.mapError(failWith(`record the step ${step.step} of ${step.clientOrderId}`))
        ),
      stepsOf: (clientOrderId) =>
        sql<{ step: string; at: number; detail: string | null }>`SELECT step, at, detail FROM order_steps
          WHERE client_order_id = ${clientOrderId} ORDER BY seq`.pipe(
          Effect.mapError(failWith(`read the steps of ${clientOrderId}`)),
          Effect.map((rows) =>
            rows.map((row): OrderStep => ({
              clientOrderId,
              step: row.step as OrderStepKind, // written only by `record`
              at: row.at,
              ...(row.detail === null ? {} : { detail: row.detail })
            }))
          )
        ),
      fillsOf: (clientOrderId) =>
        sql<{ payload: string }>`SELECT payload FROM events
          WHERE client_order_id = ${clientOrderId} AND type = 'OrderFilled' ORDER BY seq`.pipe(
          Effect.mapError(failWith(`read the fills of ${clientOrderId}`)),
          Effect.flatMap((rows) => Effect.forEach(rows, (row) => decodeFill(row.payload))),
          Effect.mapError((error) => error._tag === "JournalError" ? error : failWith(`decode the fills of ${clientOrderId}`)(error))
        )
    })
  })
)
