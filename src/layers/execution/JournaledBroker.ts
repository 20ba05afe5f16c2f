import { Effect, Layer, Option } from "effect"
import { BrokerError } from "../../domain/TradingErrors.js"
import { Broker, cancelOf } from "../../services/Broker.js"
import { Journal } from "../../services/Journal.js"

/**
 * Makes the Broker it wraps idempotent across restarts: an order whose fill
 * or rejection is in the Journal is not executed again; its recorded outcome
 * is returned instead (the last fill as it was, the rejection or cancellation with its reason).
 * Without a Journal in the context it is the wrapped Broker unchanged. When
 * the journal cannot be read the order is not executed (at most once) and
 * fails with a `BrokerError` that is not a rejection.
 */
export const layer: Layer.Layer<Broker, never, Broker> = Layer.effect(
  Broker,
  Effect.gen(function*() {
    const inner = yield* Broker
    const journal = yield* Effect.serviceOption(Journal)
    if (Option.isNone(journal)) return inner
    const { outcomeOf } = journal.value
    return Broker.of({
      ...cancelOf(inner),
      submit: (order, options) =>
        outcomeOf(order.clientOrderId).pipe(
          Effect.mapError((error) =>
            new BrokerError({
              clientOrderId: order.clientOrderId,
              message: `not executed: cannot check the journal for an earlier execution (${error.message})`,
              rejected: false,
              cause: error
            })
          ),
          Effect.flatMap(Option.match({
            onNone: () => inner.submit(order, options),
            onSome: (outcome) =>
              outcome.type === "OrderFilled"
                ? Effect.succeed(outcome.payload)
                : Effect.fail(
                  new BrokerError({
                    clientOrderId: order.clientOrderId,
                    message: outcome.payload.reason ?? `${outcome.type === "OrderCancelled" ? "cancelled" : "rejected"} (journaled)`,
                    rejected: true,
                    ...(outcome.type === "OrderCancelled" ? { ended: "CANCELLED" as const } : {})
                  })
                )
          }))
        )
    })
  })
)
