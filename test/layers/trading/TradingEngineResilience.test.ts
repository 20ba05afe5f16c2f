import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import type { BusEvent } from "../../../src/domain/BusEvent.js"
import type { Fill, Order } from "../../../src/domain/Order.js"
import { BrokerError } from "../../../src/domain/TradingErrors.js"
import * as CircuitBreakerBroker from "../../../src/layers/execution/CircuitBreakerBroker.js"
import * as JournaledBroker from "../../../src/layers/execution/JournaledBroker.js"
import * as JournalHooks from "../../../src/layers/journal/JournalHooks.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import * as SqliteDeadLetters from "../../../src/layers/journal/SqliteDeadLetters.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import * as TradingEngine from "../../../src/layers/trading/TradingEngine.js"
import { Broker } from "../../../src/services/Broker.js"
import { DeadLetters } from "../../../src/services/DeadLetters.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { Journal } from "../../../src/services/Journal.js"
import { settle } from "../../support/fixtures.js"
import { created, fill } from "../../support/journal.js"

/** A broker that faults until told otherwise. */
const flakyBroker = () => {
  const state = { ok: false, calls: 0 }
  const layer = Layer.succeed(Broker, Broker.of({
    submit: (o: Order) =>
      Effect.suspend((): Effect.Effect<Fill, BrokerError> => {
        state.calls++
        return state.ok
          ? Effect.succeed(fill(o.clientOrderId))
          : Effect.fail(new BrokerError({ clientOrderId: o.clientOrderId, message: "HTTP 503", rejected: false }))
      })
  }))
  return { state, layer }
}

/** The engine as Engine.ts composes it with a journal: journal, hooks, bus; JournaledBroker over the breaker. */
const engine = <B extends Broker | CircuitBreakerBroker.BreakerState>(guarded: Layer.Layer<B, never, EventBus>) => {
  const infrastructure = MemoryEventBus.layer().pipe(
    Layer.orDie,
    Layer.provideMerge(JournalHooks.layer),
    Layer.provideMerge(SqliteDeadLetters.layer),
    Layer.provideMerge(SqliteJournal.layerWithSql({ filename: ":memory:" }).pipe(Layer.orDie))
  )
  return TradingEngine.layerWith({ retry: { jitter: false } }).pipe(
    Layer.provideMerge(Layer.mergeAll(guarded, MemoryPortfolio.layer)),
    Layer.provideMerge(infrastructure)
  )
}

const record = Effect.gen(function*() {
  const events: Array<BusEvent> = []
  const bus = yield* EventBus
  for (const type of ["OrderFilled", "Error"] as const) yield* bus.subscribe(type, (e) => (events.push(e), Effect.void))
  return events
})

const advance = (millis: number) =>
  Effect.gen(function*() {
    for (let t = 0; t < millis; t += 100) {
      yield* TestClock.adjust("100 millis")
      yield* settle
    }
  })

describe("TradingEngine with retries, dead letters and the circuit breaker", () => {
  it.effect("a broker fault is retried 5 times, then the order is a dead letter and an Error event", () => {
    const broker = flakyBroker()
    return Effect.gen(function*() {
      const events = yield* record
      const event = created("a")
      yield* (yield* EventBus).publish(event)
      yield* advance(2_000)
      expect(broker.state.calls).toBe(5)
      const letters = yield* (yield* DeadLetters).list
      expect(letters.map((l) => [l.handler, l.queue, l.attempts, l.event.id])).toEqual([["broker", "order", 5, event.id]])
      expect(letters[0]!.cause).toContain("HTTP 503")
      const errors = events.filter((e) => e.type === "Error")
      expect(errors.map((e) => e.payload)).toMatchObject([{ component: "broker" }])
      expect((errors[0]!.payload as { message: string }).message).toMatch(/^broker failed on OrderCreated .* after 5 attempts: BrokerError: HTTP 503; dead letter #1$/)
    }).pipe(Effect.provide(engine(JournaledBroker.layer.pipe(Layer.provide(broker.layer)))))
  })

  it.effect("faults open the breaker; the order is deferred, never dropped, and filled after the probe", () => {
    const broker = flakyBroker()
    return Effect.gen(function*() {
      const events = yield* record
      const journal = yield* Journal
      yield* (yield* EventBus).publish(created("a"))
      // 5 attempts (0, 100, 300, 700, 1500 ms): the fifth opens the breaker, and waits instead of failing
      yield* advance(1_600)
      expect(broker.state.calls).toBe(5)
      expect(yield* Effect.flatMap(CircuitBreakerBroker.BreakerState, (s) => s.snapshot)).toMatchObject({ status: "open", openedAt: 1_500 })
      expect(events.filter((e) => e.type === "Error").map((e) => (e.payload as { message: string }).message)).toEqual([
        "circuit breaker opened after 5 consecutive broker failures; orders wait until 1970-01-01T00:00:31.500Z"
      ])
      // maxWait (20 s) runs out: the order goes back in the queue as a new, journaled OrderCreated
      yield* TestClock.adjust("20 seconds")
      yield* settle
      const pending = (yield* journal.pending).filter((e) => e.event.type === "OrderCreated")
      expect(pending).toHaveLength(1)
      expect((pending[0]!.event.payload as Order).clientOrderId).toBe("a")
      expect(broker.state.calls).toBe(5)
      broker.state.ok = true
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(broker.state.calls).toBe(6)
      expect(events.filter((e) => e.type === "OrderFilled").map((e) => (e.payload as Fill).clientOrderId)).toEqual(["a"])
      expect(yield* (yield* DeadLetters).list).toEqual([])
      expect(yield* journal.pending).toEqual([])
      expect((yield* (yield* EventBus).stats).order.failed).toBe(0)
    }).pipe(Effect.provide(engine(
      // as Engine.ts should wire it: the journal's short-circuit before the breaker
      JournaledBroker.layer.pipe(Layer.provideMerge(CircuitBreakerBroker.layer()), Layer.provide(broker.layer))
    )))
  })
})
