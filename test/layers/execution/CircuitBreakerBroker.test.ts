import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, FiberId, Layer, Metric, TestClock } from "effect"
import * as Metrics from "../../../src/domain/Metrics.js"
import type { Fill, Order } from "../../../src/domain/Order.js"
import { BrokerError } from "../../../src/domain/TradingErrors.js"
import * as CircuitBreakerBroker from "../../../src/layers/execution/CircuitBreakerBroker.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import { Broker } from "../../../src/services/Broker.js"
import type { ErrorReport } from "../../../src/domain/ErrorReport.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { order, settle } from "../../support/fixtures.js"
import { fill } from "../../support/journal.js"

type Mode = "ok" | "fault" | "reject" | "hang"

/** A broker whose answer the test scripts; it records every order that reached it. */
const scripted = () => {
  const state = { mode: "fault" as Mode, calls: [] as Array<string>, gate: Deferred.unsafeMake<Fill, BrokerError>(FiberId.none) }
  const layer = Layer.sync(Broker, () => Broker.of({
      submit: (o: Order) =>
        Effect.suspend((): Effect.Effect<Fill, BrokerError> => {
          state.calls.push(o.clientOrderId)
          switch (state.mode) {
            case "ok":
              return Effect.succeed(fill(o.clientOrderId))
            case "hang":
              return Deferred.await(state.gate)
            case "reject":
              return Effect.fail(new BrokerError({ clientOrderId: o.clientOrderId, message: "too big", rejected: true }))
            case "fault":
              return Effect.fail(new BrokerError({ clientOrderId: o.clientOrderId, message: "HTTP 503", rejected: false }))
          }
        })
    }))
  return { state, layer }
}

const setup = (options: CircuitBreakerBroker.CircuitBreakerOptions) => {
  const inner = scripted()
  const layer = CircuitBreakerBroker.layer(options).pipe(
    Layer.provideMerge(Layer.merge(inner.layer, MemoryEventBus.layer().pipe(Layer.orDie)))
  )
  return { inner: inner.state, layer }
}

/** Subscribes a recorder of the bus's Error events. */
const recordErrors = Effect.gen(function*() {
  const errors: Array<ErrorReport> = []
  const bus = yield* EventBus
  yield* bus.subscribe("Error", (e) => (errors.push(e.payload), Effect.void))
  return errors
})

const submit = (id: string) => Effect.flatMap(Broker, (b) => b.submit(order(id)))
const snapshot = Effect.flatMap(CircuitBreakerBroker.BreakerState, (s) => s.snapshot)
const gauge = Effect.map(Metric.value(Metrics.circuitBreakerState), (s) => s.value)

describe("CircuitBreakerBroker", () => {
  it.effect("opens after N consecutive faults, publishes one Error, and the order that opened it waits for the probe", () => {
    const { inner, layer } = setup({ failureThreshold: 3, cooldown: "30 seconds", maxWait: "1 minute" })
    return Effect.gen(function*() {
      const errors = yield* recordErrors
      expect((yield* Effect.flip(submit("a"))).message).toBe("HTTP 503")
      expect((yield* Effect.flip(submit("b"))).message).toBe("HTTP 503")
      expect(yield* snapshot).toMatchObject({ status: "closed", consecutiveFailures: 2 })
      const third = yield* Effect.fork(submit("c"))
      yield* settle
      expect(yield* snapshot).toEqual({ status: "open", consecutiveFailures: 3, openedAt: 0, openUntil: 30_000, openings: 1 })
      expect(yield* gauge).toBe(2)
      expect(CircuitBreakerBroker.formatBreaker(yield* snapshot)).toBe("breaker OPEN until 00:00:30Z (3 failures)")
      // a new order while open waits: it does not reach the broker, and does not fail
      const waiting = yield* Effect.fork(submit("d"))
      yield* settle
      yield* TestClock.adjust("29 seconds")
      yield* settle
      expect(inner.calls).toEqual(["a", "b", "c"])
      expect(third.unsafePoll()).toBeNull()
      expect(waiting.unsafePoll()).toBeNull()
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({ component: "broker" })
      expect(errors[0]!.message).toBe(
        "circuit breaker opened after 3 consecutive broker failures; orders wait until 1970-01-01T00:00:30.000Z"
      )
      expect(errors[0]!.cause).toContain("HTTP 503")
      // the cooldown ends: one order probes, succeeds, the breaker closes, the other order goes through
      inner.mode = "ok"
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(third)).clientOrderId).toBe("c")
      expect((yield* Fiber.join(waiting)).clientOrderId).toBe("d")
      // one probe (whichever waiter woke first), then the other order
      expect(inner.calls.slice(0, 3)).toEqual(["a", "b", "c"])
      expect([...inner.calls.slice(3)].sort()).toEqual(["c", "d"])
      expect(yield* snapshot).toMatchObject({ status: "closed", consecutiveFailures: 0, openedAt: undefined, openings: 1 })
      expect(yield* gauge).toBe(0)
      yield* settle
      expect(errors).toHaveLength(1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("half-opens for one probe (gauge 1), others wait for it; a failed probe re-opens it with one more Error", () => {
    const { inner, layer } = setup({ failureThreshold: 1, cooldown: "10 seconds", maxWait: "1 minute" })
    return Effect.gen(function*() {
      const errors = yield* recordErrors
      const first = yield* Effect.fork(submit("a")) // its fault opens the breaker at once (threshold 1)
      yield* settle
      expect(yield* snapshot).toMatchObject({ status: "open", openedAt: 0 })
      const second = yield* Effect.fork(submit("b"))
      yield* settle
      inner.mode = "hang"
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(yield* snapshot).toMatchObject({ status: "half-open" })
      expect(yield* gauge).toBe(1)
      expect(inner.calls).toHaveLength(2) // a, then one probe (a or b); the other waits for its outcome
      inner.mode = "ok"
      yield* Deferred.fail(inner.gate, new BrokerError({ clientOrderId: "a", message: "timeout", rejected: false }))
      yield* settle
      expect(yield* snapshot).toEqual({ status: "open", consecutiveFailures: 2, openedAt: 10_000, openUntil: 20_000, openings: 2 })
      expect(yield* gauge).toBe(2)
      expect(errors.map((e) => e.message)).toEqual([
        "circuit breaker opened after 1 consecutive broker failures; orders wait until 1970-01-01T00:00:10.000Z",
        "circuit breaker re-opened: the probe order failed; orders wait until 1970-01-01T00:00:20.000Z"
      ])
      expect(first.unsafePoll()).toBeNull()
      expect(second.unsafePoll()).toBeNull()
      yield* TestClock.adjust("10 seconds")
      expect((yield* Fiber.join(first)).clientOrderId).toBe("a")
      expect((yield* Fiber.join(second)).clientOrderId).toBe("b")
      expect(yield* gauge).toBe(0)
      expect(errors).toHaveLength(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("rejections are answers, not faults: they never open it and reset the count", () => {
    const { inner, layer } = setup({ failureThreshold: 2 })
    return Effect.gen(function*() {
      const errors = yield* recordErrors
      yield* Effect.flip(submit("a"))
      expect(yield* snapshot).toMatchObject({ consecutiveFailures: 1 })
      inner.mode = "reject"
      for (const id of ["b", "c", "d", "e"]) {
        const error = yield* Effect.flip(submit(id))
        expect(error).toMatchObject({ rejected: true, message: "too big" })
      }
      expect(yield* snapshot).toMatchObject({ status: "closed", consecutiveFailures: 0, openings: 0 })
      expect(yield* gauge).toBe(0)
      yield* settle
      expect(errors).toEqual([])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a submit waits at most maxWait, then fails with CircuitOpenError without reaching the broker", () => {
    const { inner, layer } = setup({ failureThreshold: 1, cooldown: "30 seconds", maxWait: "20 seconds" })
    return Effect.gen(function*() {
      const first = yield* Effect.fork(submit("a"))
      yield* settle
      const second = yield* Effect.fork(Effect.flip(submit("b")))
      yield* settle
      yield* TestClock.adjust("20 seconds")
      const error = yield* Fiber.join(second)
      expect(CircuitBreakerBroker.isCircuitOpen(error)).toBe(true)
      expect(error).toMatchObject({ rejected: false, clientOrderId: "b" })
      expect(error.message).toBe("not sent: the circuit breaker is open until 1970-01-01T00:00:30.000Z")
      expect(inner.calls).toEqual(["a"])
      // the order that opened it waited since t=0: its maxWait ran out too
      expect(CircuitBreakerBroker.isCircuitOpen(yield* Effect.flip(Fiber.join(first)))).toBe(true)
      expect(Exit.isExit(yield* Fiber.await(first))).toBe(true)
    }).pipe(Effect.provide(layer))
  })
})
