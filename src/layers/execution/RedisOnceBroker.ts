/**
 * Exactly one execution per `clientOrderId` across every process of a Redis namespace: before the broker it
 * wraps executes an order, `SET <ns>:executed:<clientOrderId> NX` claims it; the outcome (the fill, or the
 * rejection) then replaces the claim, and an order delivered again (a failover's redelivery, a retry) gets that
 * outcome back instead of a second execution. A claim left by a process that died executing the order is never
 * executed again here: it fails as a fault (not a rejection), so the order's handler retries and then
 * dead-letters it for a person to check against the exchange.
 */
import { Effect, Layer, Schema, type Scope } from "effect"
import { Fill } from "../../domain/Order.js"
import { BrokerError } from "../../domain/TradingErrors.js"
import { Broker, cancelOf } from "../../services/Broker.js"
import { executedKey } from "../bus/internal/redis/partition.js"
import { connect, type RedisCommandError } from "../bus/internal/redis/RedisConnection.js"

export interface RedisOnceBrokerOptions {
  readonly url: string
  /** The bus's namespace. Default `trading-bus`. */
  readonly namespace?: string
  /** Who claims: logged in a claim a dead process left. Default `pid-<pid>`. */
  readonly consumer?: string
}

const Outcome = Schema.parseJson(Schema.Union(
  Schema.Struct({ filled: Fill }),
  Schema.Struct({ rejected: Schema.String })
))
const encodeOutcome = Schema.encodeSync(Outcome)
const decodeOutcome = Schema.decodeUnknownOption(Outcome)

const make = (options: RedisOnceBrokerOptions): Effect.Effect<Broker["Type"], RedisCommandError, Broker | Scope.Scope> =>
  Effect.gen(function*() {
    const inner = yield* Broker
    const namespace = options.namespace ?? "trading-bus"
    const consumer = options.consumer ?? `pid-${process.pid}`
    const conn = yield* connect(options.url, `${consumer}-executions`)
    const fault = (clientOrderId: string, message: string, cause?: unknown) =>
      new BrokerError({ clientOrderId, message, rejected: false, ...(cause === undefined ? {} : { cause }) })

    const recorded = (clientOrderId: string, key: string) =>
      Effect.gen(function*() {
        const value = yield* conn.send(["GET", key])
        const outcome = decodeOutcome(String(value))
        if (outcome._tag === "None") {
          return yield* fault(clientOrderId, `not executed again: ${String(value)} claimed it and left no outcome (check the exchange)`)
        }
        const o = outcome.value
        return "filled" in o
          ? o.filled
          : yield* new BrokerError({ clientOrderId, message: o.rejected, rejected: true })
      })

    return Broker.of({
      ...cancelOf(inner),
      submit: (order, options) =>
        Effect.gen(function*() {
          const key = executedKey(namespace, order.clientOrderId)
          const claimed = yield* conn.send(["SET", key, `executing by ${consumer}`, "NX"])
          if (claimed !== "OK") return yield* recorded(order.clientOrderId, key)
          const exit = yield* Effect.exit(inner.submit(order, options))
          if (exit._tag === "Success") {
            yield* conn.send(["SET", key, encodeOutcome({ filled: exit.value })])
            return exit.value
          }
          const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          if (failure?.rejected === true) {
            yield* conn.send(["SET", key, encodeOutcome({ rejected: failure.message })])
          } else {
            // a fault before anything was executed: the claim goes, so that a retry may execute it
            yield* conn.send(["DEL", key])
          }
          return yield* exit
        }).pipe(
          Effect.catchTag("RedisCommandError", (e) =>
            Effect.fail(fault(order.clientOrderId, `not executed: cannot check Redis for an earlier execution (${e.message})`, e)))
        )
    })
  })

/** Wraps the Broker in the context; fails with `RedisCommandError` when Redis cannot be reached at start. */
export const layer = (options: RedisOnceBrokerOptions): Layer.Layer<Broker, RedisCommandError, Broker> =>
  Layer.scoped(Broker, make(options))
