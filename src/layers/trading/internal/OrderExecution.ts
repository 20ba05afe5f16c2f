/**
 * The engine's execution step: each `OrderCreated` submitted to the broker, what the broker reports before the
 * outcome published as it comes (`OrderPlaced`, the parts filled before the last), then the outcome: the last
 * fill, a rejection, a cancellation; an order the circuit breaker held back goes back in the order queue.
 */
import { Cause, Clock, Effect, Option, type Scope } from "effect"
import { type BusEvent, type EventPayload, type EventType, makeEventAt, type QueueName } from "../../../domain/BusEvent.js"
import type { BusClosedError, QueueFullError } from "../../../domain/Errors.js"
import type { Order } from "../../../domain/Order.js"
import type { Broker, OrderUpdate } from "../../../services/Broker.js"
import type { EventBus } from "../../../services/EventBus.js"
import type { Journal } from "../../../services/Journal.js"
import { isCircuitOpen } from "../../execution/CircuitBreakerBroker.js"
import type { makeRetrying, RetryOptions } from "../../journal/RetryingHandlers.js"

/** Publishes an event of the engine's making (its envelope made here) to the type's queue or `queue`. */
type Publish = <T extends EventType>(
  type: T,
  payload: EventPayload<T>,
  queue?: QueueName
) => Effect.Effect<void, QueueFullError | BusClosedError>

export interface ExecutionContext {
  readonly bus: EventBus["Type"]
  readonly broker: Broker["Type"]
  readonly journal: Option.Option<Journal["Type"]>
  readonly scope: Scope.Scope
  readonly publish: Publish
  /** `publish` done at once where the bus can (see TradingEngine): a completed Effect comes back. */
  readonly publishNow: Publish
  readonly retrying: Effect.Effect.Success<typeof makeRetrying>
  readonly retry: RetryOptions
}

export const subscribeExecution = ({ broker, bus, journal, publish, publishNow, retry, retrying, scope }: ExecutionContext) =>
  Effect.gen(function*() {
    /**
     * An order the circuit breaker held back for its maxWait: published again as a new OrderCreated (the same
     * order), from outside the order queue's processor so that a full order queue cannot block it. With a
     * journal the new event is journaled, pending, before this handler returns (and the old one is marked done),
     * so a crash meanwhile loses nothing: the next run recovers it.
     */
    const defer = (event: BusEvent<"OrderCreated">, reason: string) =>
      Effect.gen(function*() {
        const again = makeEventAt("OrderCreated", event.payload, event.timestamp, { source: event.source })
        if (Option.isSome(journal)) yield* journal.value.append(again, "order")
        yield* Effect.logWarning(`order ${event.payload.clientOrderId} deferred: ${reason}; it goes back in the order queue`).pipe(
          Effect.annotateLogs({ component: "broker", clientOrderId: event.payload.clientOrderId })
        )
        yield* bus.publish(again).pipe(
          Effect.onInterrupt(() =>
            Option.isSome(journal)
              ? Effect.void
              : Effect.logError(`order ${event.payload.clientOrderId} was deferred by the circuit breaker and is lost at shutdown`)
          ),
          Effect.catchAllCause((cause) =>
            Effect.logError(`cannot publish the deferred order ${event.payload.clientOrderId} again`, cause)
          ),
          Effect.forkIn(scope)
        )
      })

    /** What the broker reports before an order's outcome: its acknowledgement, the parts filled before the last. */
    const onUpdate = (update: OrderUpdate): Effect.Effect<void> =>
      (update._tag === "Placed" ? publish("OrderPlaced", update.order) : publish("OrderFilled", update.fill)).pipe(
        Effect.catchAllCause((cause) => Effect.logError(`cannot publish the broker's ${update._tag} update`, cause))
      )

    yield* bus.subscribe("OrderCreated", retrying((event) => {
      const order: Order = event.payload
      return Effect.suspend(() => broker.submit(order, { onUpdate })).pipe(
        Effect.matchCauseEffect({
          onSuccess: (fill) => publishNow("OrderFilled", fill),
          onFailure: (cause): Effect.Effect<void, unknown> => {
            const failure = Cause.failureOption(cause)
            if (Option.isSome(failure) && isCircuitOpen(failure.value)) return defer(event, failure.value.message)
            if (Option.isSome(failure) && failure.value.rejected) {
              const reason = failure.value.message
              const ended = failure.value.ended
              return Clock.currentTimeMillis.pipe(
                Effect.tap(() =>
                  Effect.logWarning(`order ${order.clientOrderId} ${ended === undefined ? "rejected" : ended.toLowerCase()}: ${reason}`).pipe(
                    Effect.annotateLogs({ component: "broker", clientOrderId: order.clientOrderId })
                  )
                ),
                Effect.flatMap((now) =>
                  ended === undefined
                    ? publish("OrderRejected", { ...order, status: "REJECTED", reason, updatedAt: now })
                    // cancelled or expired on the exchange, perhaps after parts filled (each published as it filled)
                    : publish("OrderCancelled", { ...order, status: "CANCELLED", reason, updatedAt: now })
                )
              )
            }
            // a fault (the broker's idempotency by clientOrderId makes a retry safe): retried, then dead-lettered
            return Effect.failCause(cause)
          }
        })
      )
    }, { name: "broker", queue: "order", ...retry }), { name: "broker" })
  })
