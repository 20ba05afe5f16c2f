import { Cause, Clock, Context, Data, Deferred, Duration, Effect, Exit, FiberId, Layer, Option } from "effect"
import { makeEvent } from "../../domain/BusEvent.js"
import * as Metrics from "../../domain/Metrics.js"
import type { Fill, Order } from "../../domain/Order.js"
import { BrokerError } from "../../domain/TradingErrors.js"
import { Broker, cancelOf, type SubmitOptions } from "../../services/Broker.js"
import { EventBus } from "../../services/EventBus.js"

export type BreakerStatus = "closed" | "open" | "half-open"

/** The breaker as the status line shows it. */
export interface BreakerSnapshot {
  readonly status: BreakerStatus
  /** Broker faults in a row (rejections are not faults). */
  readonly consecutiveFailures: number
  /** When it last opened (Clock millis); undefined while it never opened since it last closed. */
  readonly openedAt: number | undefined
  /** When an open breaker lets one order probe (openedAt + cooldown). */
  readonly openUntil: number | undefined
  /** How many times it opened (a failed probe re-opens it: one more opening). */
  readonly openings: number
}

/** The state of the broker's circuit breaker, for the status line and the health checks. */
export class BreakerState extends Context.Tag("trading-bus/BreakerState")<BreakerState, {
  readonly snapshot: Effect.Effect<BreakerSnapshot>
}>() {}

/**
 * An order waited `maxWait` for an open breaker: it was not sent. Carried as the `cause` of a
 * `BrokerError` that is not a rejection; the engine defers the order instead of failing it.
 */
export class CircuitOpenError extends Data.TaggedError("CircuitOpenError")<{
  readonly clientOrderId: string
  /** When the breaker lets a probe through. */
  readonly until: number
}> {
  override get message() {
    return `circuit breaker open until ${new Date(this.until).toISOString()}: order ${this.clientOrderId} not sent yet`
  }
}

/** Whether a broker failure is the breaker's "still open, try later" (see `CircuitOpenError`). */
export const isCircuitOpen = (error: unknown): error is BrokerError & { readonly cause: CircuitOpenError } =>
  error instanceof BrokerError && error.cause instanceof CircuitOpenError

/** The breaker in the status line: "breaker closed", "breaker OPEN until 12:00:30Z (5 failures)", "breaker half-open". */
export const formatBreaker = (s: BreakerSnapshot): string =>
  s.status === "open"
    ? `breaker OPEN until ${new Date(s.openUntil ?? 0).toISOString().slice(11, 19)}Z (${s.consecutiveFailures} failures)`
    : s.status === "half-open"
    ? "breaker half-open (probing)"
    : s.consecutiveFailures > 0
    ? `breaker closed (${s.consecutiveFailures} failures)`
    : "breaker closed"

export interface CircuitBreakerOptions {
  /** Consecutive broker faults that open the breaker. Default 5. */
  readonly failureThreshold?: number
  /** How long it stays open before one order may probe (on Effect's Clock). Default 30 seconds. */
  readonly cooldown?: Duration.DurationInput
  /**
   * How long one `submit` waits for an open breaker before failing with a `CircuitOpenError` (so that the
   * bus's handlerTimeout, 30 s by default, never interrupts it): keep it below the handler timeout. Default 20 s.
   */
  readonly maxWait?: Duration.DurationInput
}

const gaugeValue: { readonly [S in BreakerStatus]: number } = { closed: 0, "half-open": 1, open: 2 }

const make = (options: CircuitBreakerOptions) =>
  Effect.gen(function*() {
    const inner = yield* Broker
    const bus = yield* EventBus
    const threshold = Math.max(1, options.failureThreshold ?? 5)
    const cooldownMillis = Duration.toMillis(Duration.decode(options.cooldown ?? "30 seconds"))
    const maxWaitMillis = Duration.toMillis(Duration.decode(options.maxWait ?? "20 seconds"))

    let status: BreakerStatus = "closed"
    let failures = 0
    let openedAt: number | undefined
    let openings = 0
    let probing = false
    // completed at every transition out of half-open (the probe's outcome): wakes the orders waiting for it
    let probed = Deferred.unsafeMake<void>(FiberId.none)

    // read through a function: TypeScript would narrow the variable across the yields that change it
    const current = (): BreakerStatus => status
    const setStatus = (next: BreakerStatus) => {
      status = next
      Metrics.circuitBreakerState.unsafeUpdate(gaugeValue[next], [])
    }
    setStatus("closed")

    const wakeWaiters = () => {
      const previous = probed
      probed = Deferred.unsafeMake<void>(FiberId.none)
      return Deferred.succeed(previous, undefined)
    }

    const open = (now: number, cause: Cause.Cause<unknown>, wasProbe: boolean) =>
      Effect.suspend(() => {
        openedAt = now
        openings++
        setStatus("open")
        const until = new Date(now + cooldownMillis).toISOString()
        const message = wasProbe
          ? `circuit breaker re-opened: the probe order failed; orders wait until ${until}`
          : `circuit breaker opened after ${failures} consecutive broker failures; orders wait until ${until}`
        return Effect.logError(message, cause).pipe(
          Effect.annotateLogs({ component: "broker" }),
          Effect.zipRight(makeEvent("Error", { component: "broker", message, cause: Cause.pretty(cause) }, {
            source: "circuit-breaker"
          })),
          Effect.flatMap((event) => bus.publish(event)),
          Effect.catchAllCause((publishCause) =>
            Effect.logError("cannot publish the circuit breaker's Error event", publishCause)
          ),
          Effect.zipRight(wakeWaiters())
        )
      })

    /** Records the outcome of a call the breaker let through. Returns whether the breaker is open after it. */
    const record = (exit: Exit.Exit<unknown, BrokerError>, probe: boolean): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (probe) probing = false
        if (Exit.isInterrupted(exit)) {
          // an interrupted probe proves nothing: the next order probes
          return Effect.as(probe ? wakeWaiters() : Effect.void, false)
        }
        const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        const fault = Exit.isFailure(exit) && !(Option.isSome(failure) && failure.value.rejected)
        if (!fault) {
          // a fill or a rejection: the broker answered
          failures = 0
          if (status !== "closed") {
            openedAt = undefined
            setStatus("closed")
            return Effect.as(wakeWaiters(), false)
          }
          return Effect.succeed(false)
        }
        failures++
        const cause = (exit as Exit.Failure<unknown, BrokerError>).cause
        if (probe || (status === "closed" && failures >= threshold)) {
          return Effect.as(Effect.flatMap(Clock.currentTimeMillis, (now) => open(now, cause, probe)), true)
        }
        return Effect.succeed(status === "open")
      })

    const call = (order: Order, probe: boolean, options: SubmitOptions | undefined) =>
      Effect.uninterruptibleMask((restore) =>
        restore(inner.submit(order, options)).pipe(
          Effect.exit,
          Effect.tap((exit) => record(exit, probe))
        )
      )

    const openError = (order: Order, until: number) =>
      new BrokerError({
        clientOrderId: order.clientOrderId,
        message: `not sent: the circuit breaker is open until ${new Date(until).toISOString()}`,
        rejected: false,
        cause: new CircuitOpenError({ clientOrderId: order.clientOrderId, until })
      })

    /** Waits (at most until `deadline`) for the breaker to let this order through, then sends it. */
    const guarded = (
      order: Order,
      deadline: number,
      options: SubmitOptions | undefined
    ): Effect.Effect<Exit.Exit<Fill, BrokerError>, BrokerError> =>
      Effect.gen(function*() {
        while (true) {
          const now = yield* Clock.currentTimeMillis
          if (status === "closed") {
            const exit = yield* call(order, false, options)
            // the failure that opened the breaker: the order waits for the probe instead of failing
            if (Exit.isSuccess(exit) || current() !== "open") return exit
            continue
          }
          const until = (openedAt ?? now) + cooldownMillis
          if (status === "open" && now >= until) setStatus("half-open")
          if (status === "half-open" && !probing) {
            probing = true
            const exit = yield* call(order, true, options)
            if (Exit.isSuccess(exit) || current() !== "open") return exit
            continue
          }
          if (now >= deadline) return yield* Effect.fail(openError(order, until))
          if (status === "open") {
            yield* Effect.sleep(Math.min(until, deadline) - now)
          } else {
            // half-open with a probe in flight: wait for its outcome
            yield* Effect.timeoutOption(Deferred.await(probed), Duration.millis(deadline - now))
          }
        }
      })

    const waitThenSend = (order: Order, options: SubmitOptions | undefined) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.flatten(guarded(order, now + maxWaitMillis, options)))

    const broker = Broker.of({
      ...cancelOf(inner),
      submit: (order, options) =>
        Effect.suspend(() =>
          status === "closed"
            ? Effect.matchCauseEffect(inner.submit(order, options), {
              // the common case, a fill while closed, in one step: there is nothing to record but the reset
              onSuccess: (fill) => {
                if (status === "closed") {
                  failures = 0
                  return Effect.succeed(fill)
                }
                return Effect.as(record(Exit.succeed(fill), false), fill)
              },
              onFailure: (cause) =>
                Effect.flatMap(record(Exit.failCause(cause), false), () =>
                  // this failure opened the breaker (threshold 1): wait for the probe like any other order
                  status === "open" ? waitThenSend(order, options) : Effect.failCause(cause))
            })
            : waitThenSend(order, options)
        )
    })

    const state = BreakerState.of({
      snapshot: Effect.sync((): BreakerSnapshot => ({
        status,
        consecutiveFailures: failures,
        openedAt,
        openUntil: openedAt === undefined ? undefined : openedAt + cooldownMillis,
        openings
      }))
    })
    return Context.make(Broker, broker).pipe(Context.add(BreakerState, state))
  })

/**
 * A circuit breaker around the Broker it wraps. After `failureThreshold`
 * consecutive faults (a `BrokerError` with `rejected: true` is the broker
 * answering, not a fault, and resets the count) it opens: an `Error` event
 * is published (component "broker", saying until when) and logged at error
 * level. While open no order reaches the broker, none is failed or dropped:
 * each `submit` waits, at most `maxWait`, and then fails with a
 * `CircuitOpenError` cause (see `isCircuitOpen`) for its caller to try again
 * later (the engine re-queues the order). After `cooldown` one order probes:
 * its success (or rejection) closes the breaker, its fault re-opens it for
 * another cooldown. The call that opens the breaker waits for the probe
 * too. Provides the breaker's state and records `trading_bus_circuit_breaker_state`.
 */
export const layer = (options: CircuitBreakerOptions = {}): Layer.Layer<Broker | BreakerState, never, Broker | EventBus> =>
  Layer.effectContext(make(options))
