import { Cause, Clock, Duration, Effect, Option, Schedule, Schema } from "effect"
import { type BusEvent, BusEventSchema, type EventType, makeEvent, type QueueName } from "../../domain/BusEvent.js"
import * as Metrics from "../../domain/Metrics.js"
import { DeadLetters } from "../../services/DeadLetters.js"
import { type EventHandler, EventBus } from "../../services/EventBus.js"
import type { JournalError } from "../../services/Journal.js"
import { isCompleted } from "../bus/internal/completed.js"
import { summarize } from "../bus/internal/summarize.js"

export interface RetryOptions {
  /** Most runs of the handler on one event, the first included. Default 5. */
  readonly maxAttempts?: number
  /** The first delay; each next one doubles (`factor`). Default 100 ms. */
  readonly initialDelay?: Duration.DurationInput
  readonly factor?: number
  /** Multiply each delay by a random factor in [0.8, 1.2] (Schedule.jittered). Default true. */
  readonly jitter?: boolean
}

/** The retry schedule: exponential from `initialDelay`, jittered, `maxAttempts - 1` retries. */
export const retrySchedule = (options: RetryOptions = {}): Schedule.Schedule<unknown> => {
  const exponential = Schedule.exponential(options.initialDelay ?? "100 millis", options.factor ?? 2)
  const delays = options.jitter === false ? exponential : Schedule.jittered(exponential)
  return Schedule.intersect(delays, Schedule.recurs(Math.max(0, (options.maxAttempts ?? 5) - 1)))
}

export interface RetryingHandlerOptions extends RetryOptions {
  /** The handler's name: in its subscription, logs, metrics, the dead letter and the Error event's component. */
  readonly name: string
  /** The queue the event travels on (recorded in the dead letter). */
  readonly queue: QueueName
}

const encodeEvent = Schema.encodeSync(BusEventSchema)

/** Calls a handler; a handler that throws instead of returning an Effect is a defect like any other. */
const invoke = <T extends EventType>(handler: EventHandler<T>, event: BusEvent<T>): Effect.Effect<void, unknown> => {
  try {
    return handler(event)
  } catch (defect) {
    return Effect.die(defect)
  }
}

/**
 * Makes `retrying(handler, options)`: a handler that runs `handler` again on
 * its failures and defects (not on interruptions: the bus's handler timeout
 * still applies to the whole, retries included, so keep the schedule's total
 * well below it; the defaults sum to about 1.5 s), and once the retries are
 * exhausted stores the event in the dead letters (when a `DeadLetters` is in
 * the context; otherwise the encoded event is logged), logs the Cause at
 * error level and publishes an `Error` event. The wrapped handler fails only
 * when the dead letter could not be stored (a full disk): the bus then counts
 * the failure, and a journal keeps the event pending for the next start.
 *
 * The retries run inside the handler call, so they hold back later events of
 * the same queue (keeping their order) and never the other queues, each of
 * which has its own processor. A handler that succeeds at once costs one
 * call and one check (its already-completed Effect is returned as is).
 */
export const makeRetrying = Effect.gen(function*() {
  const bus = yield* EventBus
  const deadLetters = yield* Effect.serviceOption(DeadLetters)
  const retries = Metrics.labelled(Metrics.handlerRetriesTotal, "handler")
  const lettersTotal = Metrics.labelled(Metrics.deadLettersTotal, "handler")

  const exhausted = (event: BusEvent, options: RetryingHandlerOptions, attempts: number, cause: Cause.Cause<unknown>) =>
    Effect.gen(function*() {
      const { name, queue } = options
      const pretty = Cause.pretty(cause)
      lettersTotal(name).unsafeUpdate(1, [])
      let unstored: JournalError | undefined
      const stored = Option.isNone(deadLetters)
        ? Effect.succeed<string>("no dead-letter store: the event is logged here")
        : deadLetters.value.add({ handler: name, queue, attempts, cause: pretty, event, failedAt: yield* Clock.currentTimeMillis })
          .pipe(
            Effect.map((id) => `dead letter #${id}`),
            Effect.catchAll((error) => {
              unstored = error
              return Effect.succeed(`the dead letter could not be stored (${error.message})`)
            })
          )
      const where = yield* stored
      const message = `${name} failed on ${event.type} ${event.id} after ${attempts} attempts: ${summarize(cause)}; ${where}`
      yield* Effect.logError(message, cause).pipe(
        Effect.annotateLogs({
          component: name,
          queue,
          eventType: event.type,
          eventId: event.id,
          ...(where.startsWith("dead letter #") ? {} : { event: JSON.stringify(encodeEvent(event)) })
        })
      )
      yield* makeEvent("Error", { component: name, message, cause: pretty }, { source: "retry" }).pipe(
        Effect.flatMap((error) => bus.publish(error)),
        Effect.catchAllCause((publishCause) => Effect.logError(`cannot publish the Error event of ${name}`, publishCause))
      )
      // kept nowhere: the handler fails, so that a journal keeps the event to be recovered (see JournalHooks)
      if (unstored !== undefined) return yield* Effect.fail(unstored)
    })

  return <T extends EventType>(handler: EventHandler<T>, options: RetryingHandlerOptions): EventHandler<T> => {
    const schedule = retrySchedule(options)
    const retried = retries(options.name)
    // exported at 0 from the start: an alert on a rate of retries or dead letters needs a series before the first
    retried.register()
    lettersTotal(options.name).register()
    return (event) => {
      const first = invoke(handler, event)
      if (isCompleted(first) && first._tag === "Success") return first
      // the retry machinery (the schedule's state, its clock and jitter) is built only once the first attempt
      // failed: the schedule then sees that failure as its first attempt's, and paces the next ones as before
      return Effect.catchAllCause(first, (firstCause) => {
        let attempts = 0
        const attempt = Effect.suspend(() =>
          ++attempts === 1 ? Effect.failCause(firstCause) : (retried.unsafeUpdate(1, []), invoke(handler, event))
        )
        return attempt.pipe(
          Effect.sandbox,
          Effect.retry({ schedule, while: (cause) => !Cause.isInterruptedOnly(cause) }),
          Effect.catchAll((cause) => exhausted(event as BusEvent, options, attempts, cause))
        )
      })
    }
  }
})

/** The wrapper `makeRetrying` builds. */
export type Retrying = Effect.Effect.Success<typeof makeRetrying>
