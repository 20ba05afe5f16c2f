/**
 * The behaviour every `EventBus` must have, as one suite run against each implementation (the memory bus and
 * the Redis bus): run with `busContract(name, makeLayer)`. Live clock: a Redis bus does real I/O.
 */
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Context, Deferred, Effect, Exit, Layer, Scope } from "effect"
import { type BusEvent, type EventPayload, makeEvent } from "../../src/domain/BusEvent.js"
import type { EventBusConfig } from "../../src/domain/EventBusConfig.js"
import { EventBus } from "../../src/services/EventBus.js"

export type MakeBus = (config: Partial<EventBusConfig>) => Layer.Layer<EventBus, unknown>

const signal = (n: number, symbol = "BTCUSDT"): EventPayload<"SignalGenerated"> => ({
  symbol, direction: "LONG", price: n, strategy: "contract", reason: `#${n}`, timestamp: n
})

const signalEvent = (n: number, symbol?: string) => makeEvent("SignalGenerated", signal(n, symbol), { source: "contract" })

/** The bus of `make(config)` in a scope of its own, closed by the caller (to test the drain). */
const open = (make: MakeBus, config: Partial<EventBusConfig> = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(make(config), scope)
    return { bus: Context.get(context, EventBus), scope }
  })

const until = (check: Effect.Effect<boolean>, what: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 10_000
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("10 millis")
    }
  })

const makeOrder = (i: number) =>
  makeEvent("OrderCreated", {
    clientOrderId: `c-${i}`, symbol: "ETHUSDT", side: "BUY", type: "MARKET",
    quantity: BigDecimal.unsafeFromString("0.001"), price: BigDecimal.unsafeFromString("2000.5"), status: "NEW", createdAt: i, updatedAt: i
  })

export const busContract = (name: string, make: MakeBus) =>
  describe(`EventBus contract: ${name}`, () => {
    it.live("runs each event's handlers in subscription order, events in publish order", () =>
      Effect.gen(function*() {
        const { bus, scope } = yield* open(make)
        const seen: Array<string> = []
        yield* bus.subscribe("SignalGenerated", (e) => Effect.sync(() => void seen.push(`a${e.payload.price}`)))
        yield* bus.subscribe("SignalGenerated", (e) => Effect.sync(() => void seen.push(`b${e.payload.price}`)))
        for (let i = 1; i <= 3; i++) yield* bus.publish(yield* signalEvent(i))
        yield* bus.publishAll([yield* signalEvent(4), yield* signalEvent(5)])
        yield* until(Effect.map(bus.stats, (s) => s.signal.processed === 5), "5 signals")
        expect(seen).toEqual(["a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4", "a5", "b5"])
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("counts a failing, dying or throwing handler and runs the next one", () =>
      Effect.gen(function*() {
        const { bus, scope } = yield* open(make)
        const ran: Array<number> = []
        yield* bus.subscribe("SignalGenerated", () => Effect.fail("no"))
        yield* bus.subscribe("SignalGenerated", () => Effect.die("defect"))
        yield* bus.subscribe("SignalGenerated", () => {
          throw new Error("thrown")
        })
        yield* bus.subscribe("SignalGenerated", (e) => Effect.sync(() => void ran.push(e.payload.price)))
        yield* bus.publishAll([yield* signalEvent(1), yield* signalEvent(2)])
        yield* until(Effect.map(bus.stats, (s) => s.signal.processed === 2), "2 signals")
        expect(ran).toEqual([1, 2])
        expect((yield* bus.stats).signal.failed).toBe(6)
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("closing drains what was published, then publishing fails with BusClosedError", () =>
      Effect.gen(function*() {
        const { bus, scope } = yield* open(make)
        const handled: Array<string> = []
        yield* bus.subscribe("OrderCreated", (e: BusEvent<"OrderCreated">) =>
          Effect.zipRight(Effect.sleep("5 millis"), Effect.sync(() => void handled.push(e.payload.clientOrderId))))
        const real = yield* Effect.forEach([1, 2, 3, 4, 5], (i) => makeOrder(i))
        yield* bus.publishAll(real)
        yield* Scope.close(scope, Exit.void)
        expect(handled).toEqual(["c-1", "c-2", "c-3", "c-4", "c-5"])
        const after = yield* Effect.flip(bus.publish(yield* makeOrder(6)))
        expect(after._tag).toBe("BusClosedError")
        expect(after.queue).toBe("order")
      }))

    it.live("a signal publish to a full queue fails with QueueFullError after signalPublishTimeout", () =>
      Effect.gen(function*() {
        const { bus, scope } = yield* open(make, { signalCapacity: 1, signalPublishTimeout: "300 millis", drainTimeout: "1 second" })
        const release = yield* Deferred.make<void>()
        yield* bus.subscribe("SignalGenerated", () => Deferred.await(release))
        yield* bus.publish(yield* signalEvent(1))
        yield* until(Effect.map(bus.stats, (s) => s.signal.size <= 1), "the first signal in hand")
        // one in the handler's hands (still counted by Redis until acknowledged), then the queue is full
        const results = yield* Effect.forEach([2, 3], (i) => Effect.flatMap(signalEvent(i), (e) => Effect.either(bus.publish(e))))
        const failures = results.filter((r) => r._tag === "Left")
        expect(failures.length).toBeGreaterThanOrEqual(1)
        expect(failures[0]!.left._tag).toBe("QueueFullError")
        expect(failures[0]!.left.queue).toBe("signal")
        yield* Deferred.succeed(release, undefined)
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("times a handler out, counts it, and runs the next one", () =>
      Effect.gen(function*() {
        const { bus, scope } = yield* open(make, { handlerTimeout: "100 millis", drainTimeout: "2 seconds" })
        const ran: Array<number> = []
        yield* bus.subscribe("SignalGenerated", () => Effect.never)
        yield* bus.subscribe("SignalGenerated", (e) => Effect.sync(() => void ran.push(e.payload.price)))
        yield* bus.publishAll([yield* signalEvent(1), yield* signalEvent(2)])
        yield* until(Effect.map(bus.stats, (s) => s.signal.processed === 2), "2 signals")
        expect(ran).toEqual([1, 2])
        expect((yield* bus.stats).signal.failed).toBe(2)
        yield* Scope.close(scope, Exit.void)
      }))

    it.live("an order publish to a full order queue waits for room, then every order is handled in order", () =>
      Effect.gen(function*() {
        const { bus, scope } = yield* open(make, { orderCapacity: 2 })
        const release = yield* Deferred.make<void>()
        const handled: Array<string> = []
        yield* bus.subscribe("OrderCreated", (e) =>
          Effect.zipRight(Deferred.await(release), Effect.sync(() => void handled.push(e.payload.clientOrderId))))
        const orders = yield* Effect.forEach([1, 2, 3, 4, 5], makeOrder)
        const publishing = yield* Effect.fork(bus.publishAll(orders))
        yield* Effect.sleep("300 millis")
        expect(publishing.unsafePoll()).toBeNull() // still waiting: an order is never dropped
        yield* Deferred.succeed(release, undefined)
        yield* publishing.await
        yield* until(Effect.sync(() => handled.length === 5), "5 orders")
        expect(handled).toEqual(["c-1", "c-2", "c-3", "c-4", "c-5"])
        yield* Scope.close(scope, Exit.void)
      }))
  })
