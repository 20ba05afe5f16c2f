import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, TestClock } from "effect"
import { makeEventAt } from "../../../src/domain/BusEvent.js"
import type { ErrorReport } from "../../../src/domain/ErrorReport.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import { makeRetrying } from "../../../src/layers/journal/RetryingHandlers.js"
import * as SqliteDeadLetters from "../../../src/layers/journal/SqliteDeadLetters.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { DeadLetters } from "../../../src/services/DeadLetters.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { candle, settle } from "../../support/fixtures.js"
import { created } from "../../support/journal.js"

const signal = () =>
  makeEventAt("SignalGenerated", { symbol: "BTCUSDT", direction: "LONG", price: 1, strategy: "s", reason: "r", timestamp: 0 }, 0, {
    source: "test"
  })

const withDeadLetters = MemoryEventBus.layer().pipe(
  Layer.orDie,
  Layer.provideMerge(SqliteDeadLetters.layer),
  Layer.provideMerge(SqliteJournal.layerWithSql({ filename: ":memory:" }).pipe(Layer.orDie))
)

const recordErrors = Effect.gen(function*() {
  const errors: Array<ErrorReport> = []
  yield* (yield* EventBus).subscribe("Error", (e) => (errors.push(e.payload), Effect.void))
  return errors
})

describe("retrying", () => {
  it.effect("retries a failing handler on the schedule: exponential from 100 ms (no jitter here)", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const retrying = yield* makeRetrying
      const times: Array<number> = []
      yield* bus.subscribe("SignalGenerated", retrying((_) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          times.push(now)
          return times.length < 4 ? Effect.fail("flaky") : Effect.void
        }), { name: "h", queue: "signal", jitter: false }))
      const errors = yield* recordErrors
      yield* bus.publish(signal())
      yield* settle
      expect(times).toEqual([0])
      for (let i = 0; i < 10; i++) {
        yield* TestClock.adjust("100 millis")
        yield* settle
      }
      expect(times).toEqual([0, 100, 300, 700])
      expect(errors).toEqual([])
      expect((yield* bus.stats).signal).toMatchObject({ processed: 1, failed: 0 })
    }).pipe(Effect.provide(MemoryEventBus.layer().pipe(Layer.orDie))))

  it.effect("jitters each delay within [0.8, 1.2] of it", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const retrying = yield* makeRetrying
      const times: Array<number> = []
      yield* bus.subscribe("SignalGenerated", retrying((_) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => (times.push(now), Effect.fail("down"))), {
        name: "h",
        queue: "signal",
        maxAttempts: 2,
        initialDelay: "1 second"
      }))
      yield* bus.publish(signal())
      yield* settle
      yield* TestClock.adjust("799 millis")
      yield* settle
      expect(times).toEqual([0])
      yield* TestClock.adjust("401 millis") // TestClock wakes the sleep at its own time
      yield* settle
      expect(times).toHaveLength(2)
      expect(times[1]).toBeGreaterThanOrEqual(800)
      expect(times[1]).toBeLessThanOrEqual(1200)
    }).pipe(Effect.provide(withDeadLetters)))

  it.effect("an event that exhausts its retries becomes a dead letter with its cause, handler and attempts, and an Error", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const retrying = yield* makeRetrying
      let attempts = 0
      yield* bus.subscribe("SignalGenerated", retrying((_) => {
        attempts++
        return attempts % 2 === 0 ? Effect.die(new Error("boom")) : Effect.fail(new Error("exchange down"))
      }, { name: "order-manager", queue: "signal", maxAttempts: 3, jitter: false }))
      const errors = yield* recordErrors
      const event = signal()
      yield* bus.publish(event)
      yield* settle
      yield* TestClock.adjust("100 millis")
      yield* settle
      expect(attempts).toBe(2)
      yield* TestClock.adjust("200 millis")
      yield* settle
      expect(attempts).toBe(3)
      const letters = yield* (yield* DeadLetters).list
      expect(letters).toHaveLength(1)
      expect(letters[0]).toMatchObject({ id: 1, handler: "order-manager", queue: "signal", attempts: 3, failedAt: 300 })
      expect(letters[0]!.cause).toContain("exchange down")
      expect(letters[0]!.event).toEqual(event)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({ component: "order-manager" })
      expect(errors[0]!.message).toBe(
        `order-manager failed on SignalGenerated ${event.id} after 3 attempts: Error: exchange down; dead letter #1`
      )
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(attempts).toBe(3)
    }).pipe(Effect.provide(withDeadLetters)))

  it.effect("other queues keep flowing while an order handler waits for its next retry", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const retrying = yield* makeRetrying
      let attempts = 0
      const seen: Array<string> = []
      yield* bus.subscribe("OrderCreated", retrying((_) => (attempts++, Effect.fail("down")), {
        name: "broker",
        queue: "order",
        jitter: false
      }))
      yield* bus.subscribe("CandleClosed", (e) => (seen.push(`candle ${e.payload.close}`), Effect.void))
      yield* bus.subscribe("SignalGenerated", (_) => (seen.push("signal"), Effect.void))
      yield* bus.publish(created("a"))
      yield* settle
      expect(attempts).toBe(1)
      yield* bus.publish(makeEventAt("CandleClosed", candle(7), 0))
      yield* bus.publish(signal())
      yield* settle
      expect(seen).toEqual(["candle 7", "signal"]) // without moving the clock: the order's retry is pending
      expect(attempts).toBe(1)
      yield* TestClock.adjust("2 seconds")
      yield* settle
      expect(attempts).toBe(5)
      expect((yield* (yield* DeadLetters).list).map((l) => [l.handler, l.attempts])).toEqual([["broker", 5]])
    }).pipe(Effect.provide(withDeadLetters)))
})
