import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Cause, ConfigProvider, Deferred, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, TestClock } from "effect"
import { type BusEvent, makeEvent, makeEventAt } from "../../../src/domain/BusEvent.js"
import { BusClosedError, EventBusConfigError, QueueFullError } from "../../../src/domain/Errors.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { EventBusHooks } from "../../../src/services/EventBusHooks.js"
import { candle, captureLogs, openBus, order, settle } from "../../support/fixtures.js"

const signal = (n: number) =>
  makeEventAt("SignalGenerated", {
    symbol: "BTCUSDT",
    direction: "LONG",
    price: n,
    strategy: "test",
    reason: `#${n}`,
    timestamp: 0
  }, 0)
const closed = (n: number) => makeEventAt("CandleClosed", candle(n, n * 60_000), 0)
const created = (id: string) => makeEventAt("OrderCreated", order(id), 0)
const one = BigDecimal.fromBigInt(1n)

/** Hooks on the order queue that write down each event they see, before it is queued and after it is handled. */
const tracingHooks = () => {
  const trace: Array<string> = []
  const hooks = Layer.succeed(EventBusHooks, {
    queues: ["order"],
    beforeEnqueue: (e) => Effect.sync(() => trace.push(`before ${e.type}`)),
    afterHandled: (e) => Effect.sync(() => trace.push(`after ${e.type}`))
  })
  return { hooks, trace }
}

describe("MemoryEventBus", () => {
  describe("the signal queue", () => {
    it.scoped("fails a publish to a full queue at exactly signalPublishTimeout, and never enqueues it later", () =>
      Effect.gen(function*() {
        const { bus } = yield* openBus({ signalCapacity: 1 })
        const release = yield* Deferred.make<void>()
        const seen: Array<string> = []
        yield* bus.subscribe("SignalGenerated", (e) =>
          Effect.zipRight(Effect.sync(() => seen.push(e.payload.reason)), Deferred.await(release)))
        yield* bus.publish(signal(1)) // taken by the processor, which blocks on it
        yield* settle
        yield* bus.publish(signal(2)) // queued: the queue is now full
        const third = yield* Effect.fork(bus.publish(signal(3)))
        yield* settle
        yield* TestClock.adjust("4999 millis")
        expect(Option.isNone(yield* Fiber.poll(third))).toBe(true)
        yield* TestClock.adjust("1 millis")
        const error = yield* Effect.flip(Fiber.join(third))
        expect(error).toBeInstanceOf(QueueFullError)
        expect(error).toMatchObject({ _tag: "QueueFullError", queue: "signal", size: 1, capacity: 1 })
        yield* Deferred.succeed(release, undefined)
        yield* settle
        expect(seen).toEqual(["#1", "#2"])
        expect((yield* bus.stats).signal).toMatchObject({ processed: 2, failed: 0, size: 0, dropped: 0 })
      }))

    it.scoped("does not wait while the queue has room", () =>
      Effect.gen(function*() {
        const { bus } = yield* openBus({ signalCapacity: 2 })
        yield* bus.subscribe("SignalGenerated", () => Effect.never)
        yield* bus.publish(signal(1))
        yield* settle
        yield* bus.publishAll([signal(2), signal(3)])
        expect((yield* bus.stats).signal).toMatchObject({ size: 2, capacity: 2 })
      }))
  })

  describe("the order queue", () => {
    it.scoped("keeps a publisher waiting as long as it takes, and never drops the order", () =>
      Effect.gen(function*() {
        const { bus } = yield* openBus({ orderCapacity: 1, handlerTimeout: "1 day" })
        const release = yield* Deferred.make<void>()
        const seen: Array<string> = []
        yield* bus.subscribe("OrderCreated", (e) =>
          Effect.zipRight(Effect.sync(() => seen.push(e.payload.clientOrderId)), Deferred.await(release)))
        yield* bus.publish(created("o1"))
        yield* settle
        yield* bus.publish(created("o2"))
        const third = yield* Effect.fork(bus.publish(created("o3")))
        yield* settle
        yield* TestClock.adjust("1 hour")
        expect(Option.isNone(yield* Fiber.poll(third))).toBe(true)
        expect((yield* bus.stats).order.size).toBe(1)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(third)
        yield* settle
        expect(seen).toEqual(["o1", "o2", "o3"])
        expect((yield* bus.stats).order).toMatchObject({ processed: 3, dropped: 0, failed: 0 })
      }))
  })

  describe("the data queue", () => {
    it.scoped("slides: a full queue pushes out its oldest event and counts it", () =>
      Effect.gen(function*() {
        const { bus } = yield* openBus({ dataCapacity: 3 })
        const release = yield* Deferred.make<void>()
        const seen: Array<number> = []
        yield* bus.subscribe("CandleClosed", (e) =>
          Effect.zipRight(Effect.sync(() => seen.push(e.payload.close)), Deferred.await(release)))
        yield* bus.publish(closed(0)) // in flight
        yield* settle
        // 1..3 fill the queue; 4 and 5 push out 1 and 2; publishing never waits
        yield* bus.publishAll([1, 2, 3, 4, 5].map(closed))
        expect((yield* bus.stats).data).toMatchObject({ size: 3, dropped: 2 })
        yield* Deferred.succeed(release, undefined)
        yield* settle
        expect(seen).toEqual([0, 3, 4, 5])
        expect((yield* bus.stats).data).toMatchObject({ size: 0, dropped: 2, processed: 4 })
      }))
  })

  describe("the processors", () => {
    it.scoped("run a type's handlers one after another in subscription order, FIFO per queue", () =>
      Effect.gen(function*() {
        const { bus } = yield* openBus()
        const trace: Array<string> = []
        const handler = (name: string) => (e: { readonly payload: { readonly close: number } }) =>
          Effect.gen(function*() {
            trace.push(`${name}:${e.payload.close}:start`)
            yield* TestClock.sleep("10 millis") // an asynchronous handler must still finish before the next runs
            trace.push(`${name}:${e.payload.close}:end`)
          })
        yield* bus.subscribe("CandleClosed", handler("a"))
        yield* bus.subscribe("CandleClosed", handler("b"))
        yield* bus.publishAll([closed(1), closed(2)])
        yield* settle
        for (let i = 0; i < 4; i++) {
          yield* TestClock.adjust("10 millis")
          yield* settle
        }
        expect(trace).toEqual([
          "a:1:start",
          "a:1:end",
          "b:1:start",
          "b:1:end",
          "a:2:start",
          "a:2:end",
          "b:2:start",
          "b:2:end"
        ])
      }))

    it.scoped("catch a failure, a defect and a timeout, log each with its context, and run the next handler", () =>
      Effect.gen(function*() {
        const logs = captureLogs()
        const { bus } = yield* openBus({ handlerTimeout: "1 second" }).pipe(Effect.provide(logs.layer))
        const reached: Array<string> = []
        yield* bus.subscribe("OrderCreated", () => Effect.fail("declined"), { name: "fails" })
        yield* bus.subscribe("OrderCreated", () => Effect.die(new Error("boom")), { name: "dies" })
        yield* bus.subscribe("OrderCreated", () => {
          throw new Error("thrown while building the effect")
        }, { name: "throws" })
        yield* bus.subscribe("OrderCreated", () => Effect.never, { name: "hangs" })
        yield* bus.subscribe("OrderCreated", (e) => Effect.sync(() => reached.push(e.payload.clientOrderId)), {
          name: "records"
        })
        const event = created("o1")
        yield* bus.publish(event)
        yield* settle
        expect(reached).toEqual([])
        yield* TestClock.adjust("999 millis")
        yield* settle
        expect(reached).toEqual([])
        yield* TestClock.adjust("1 millis")
        yield* settle
        expect(reached).toEqual(["o1"])
        expect((yield* bus.stats).order).toMatchObject({ processed: 1, failed: 4 })
        const failures = logs.entries.filter((l) => l.level === "ERROR")
        expect(failures.map((l) => l.annotations.handler)).toEqual(["fails", "dies", "throws", "hangs"])
        for (const l of failures) {
          expect(l.annotations).toMatchObject({ queue: "order", eventType: "OrderCreated", eventId: event.id })
        }
        expect(failures[3]!.message).toContain("timed out")
        // the processor goes on after a timeout
        yield* bus.publish(created("o2"))
        yield* settle
        yield* TestClock.adjust("1 second")
        yield* settle
        expect(reached).toEqual(["o1", "o2"])
      }))

    it.scoped("time a handler from its own start, not from the start of a handler that waited before it", () =>
      Effect.gen(function*() {
        const logs = captureLogs()
        const { bus } = yield* openBus({ handlerTimeout: "1 second" }).pipe(Effect.provide(logs.layer))
        const release = yield* Deferred.make<void>()
        const reached: Array<string> = []
        // the first event's handler waits 900 ms; the second event's handler then waits for good
        yield* bus.subscribe("OrderCreated", (e) =>
          e.payload.clientOrderId === "o1"
            ? Deferred.await(release)
            : Effect.zipRight(Effect.sync(() => reached.push(e.payload.clientOrderId)), Effect.never), { name: "waits" })
        yield* bus.publishAll([created("o1"), created("o2")])
        yield* settle
        yield* TestClock.adjust("900 millis")
        yield* Deferred.succeed(release, undefined)
        yield* settle
        expect(reached).toEqual(["o2"])
        // o2's handler started at 900 ms: at 1,899 ms it has run 999 ms and goes on; at 1,900 ms it times out
        yield* TestClock.adjust("999 millis")
        yield* settle
        expect((yield* bus.stats).order.failed).toBe(0)
        yield* TestClock.adjust("1 millis")
        yield* settle
        expect((yield* bus.stats).order).toMatchObject({ processed: 2, failed: 1 })
        expect(logs.entries.filter((l) => l.level === "ERROR").map((l) => l.annotations.eventId)).toHaveLength(1)
      }))

    it.scoped("restart a processor that dies, and go on with the next handler and event", () =>
      Effect.gen(function*() {
        const logs = captureLogs()
        const { bus } = yield* openBus().pipe(Effect.provide(logs.layer))
        const seen: Array<number> = []
        // interrupts the processor fiber it runs on: the worst a handler can do to its processor
        yield* bus.subscribe("CandleClosed", (e) =>
          e.payload.close === 1
            ? Effect.withFiberRuntime<void>((fiber) => {
              fiber.unsafeInterruptAsFork(fiber.id())
              return Effect.never
            })
            : Effect.void, { name: "killer" })
        yield* bus.subscribe("CandleClosed", (e) => Effect.sync(() => seen.push(e.payload.close)))
        yield* bus.publishAll([closed(1), closed(2), closed(3)])
        yield* settle
        expect(seen).toEqual([1, 2, 3])
        expect((yield* bus.stats).data).toMatchObject({ processed: 3, failed: 1 })
        expect(logs.entries.some((l) => l.message.includes("data processor stopped unexpectedly; restarting"))).toBe(
          true
        )
      }))

    it.scoped("keep the queues independent: a stuck data handler never delays an order", () =>
      Effect.gen(function*() {
        const { bus } = yield* openBus({ handlerTimeout: "1 day" })
        const orders: Array<string> = []
        yield* bus.subscribe("CandleClosed", () => Effect.never)
        yield* bus.subscribe("OrderCreated", (e) => Effect.sync(() => orders.push(e.payload.clientOrderId)))
        yield* bus.publish(closed(1))
        yield* settle
        yield* bus.publishAll([created("o1"), created("o2")])
        yield* settle
        expect(orders).toEqual(["o1", "o2"])
      }))

    it.scoped("let a handler publish onto its own full queue without deadlocking", () =>
      Effect.gen(function*() {
        const { bus } = yield* openBus({ orderCapacity: 1, handlerTimeout: "1 day" })
        const positions: Array<string> = []
        yield* bus.subscribe("OrderCreated", (e) =>
          Effect.flatMap(
            makeEvent("OrderFilled", {
              ...e.payload,
              tradeId: `t-${e.payload.clientOrderId}`,
              fee: e.payload.price,
              status: "FILLED",
              orderCreatedAt: 0,
              filledAt: 0
            }),
            (fill) => Effect.orDie(bus.publish(fill))
          ))
        yield* bus.subscribe("OrderFilled", (e) => Effect.sync(() => positions.push(e.payload.tradeId)))
        const publisher = yield* Effect.fork(bus.publishAll([created("a"), created("b"), created("c")]))
        yield* settle
        yield* Fiber.join(publisher)
        yield* settle
        expect(positions).toEqual(["t-a", "t-b", "t-c"])
      }))
  })

  describe("shutdown", () => {
    it.effect("drains every queued event before stopping, and then refuses publishes", () =>
      Effect.gen(function*() {
        const { bus, close } = yield* openBus()
        const seen: Array<string> = []
        yield* bus.subscribe("OrderCreated", (e) =>
          Effect.zipRight(TestClock.sleep("1 second"), Effect.sync(() => seen.push(e.payload.clientOrderId))))
        yield* bus.publishAll([created("o1"), created("o2"), created("o3")])
        const closing = yield* Effect.fork(close)
        yield* settle
        const refused = yield* Effect.flip(bus.publish(created("late")))
        expect(refused).toBeInstanceOf(BusClosedError)
        expect(refused).toMatchObject({ _tag: "BusClosedError", queue: "order", capacity: 50 })
        expect(seen).toEqual([])
        yield* TestClock.adjust("3 seconds")
        yield* Fiber.join(closing)
        expect(seen).toEqual(["o1", "o2", "o3"])
        expect((yield* Effect.flip(bus.publish(closed(9))))._tag).toBe("BusClosedError")
      }))

    it.effect("handles the events that handlers derive while draining", () =>
      Effect.gen(function*() {
        const { bus, close } = yield* openBus()
        const fills: Array<string> = []
        yield* bus.subscribe("SignalGenerated", (e) =>
          Effect.orDie(bus.publish(created(`from-${e.payload.reason}`))))
        yield* bus.subscribe("OrderCreated", (e) => Effect.sync(() => fills.push(e.payload.clientOrderId)))
        yield* bus.publishAll([signal(1), signal(2)])
        yield* close
        expect(fills).toEqual(["from-#1", "from-#2"])
      }))

    it.effect("gives up after drainTimeout, then stops the processors and reports each order left", () =>
      Effect.gen(function*() {
        const logs = captureLogs()
        const { bus, close } = yield* openBus({ drainTimeout: "10 seconds", handlerTimeout: "1 day" }).pipe(
          Effect.provide(logs.layer)
        )
        yield* bus.subscribe("OrderCreated", () => Effect.never)
        yield* bus.publishAll([created("stuck"), created("queued")])
        yield* settle
        const closing = yield* Effect.fork(close)
        yield* settle
        yield* TestClock.adjust("9999 millis")
        expect(Option.isNone(yield* Fiber.poll(closing))).toBe(true)
        yield* TestClock.adjust("1 millis")
        expect(Exit.isSuccess(yield* Fiber.await(closing))).toBe(true)
        const warning = logs.entries.find((l) => l.level === "WARN")
        expect(warning?.message).toContain("2 events unhandled")
        expect(warning?.message).toContain("drain timed out after 10s")
        const orders = logs.entries.filter((l) => l.level === "ERROR" && l.message.includes("left on the order queue"))
        expect(orders.map((l) => l.annotations)).toEqual([
          expect.objectContaining({ clientOrderId: "stuck", symbol: "BTCUSDT", side: "BUY", quantity: "0.01" }),
          expect.objectContaining({ clientOrderId: "queued", symbol: "BTCUSDT", side: "BUY", quantity: "0.01" })
        ])
      }))

    it.effect("lets in a publisher still waiting on a full order queue when the drain gives up, and reports its order", () =>
      Effect.gen(function*() {
        const logs = captureLogs()
        const { bus, close } = yield* openBus({ orderCapacity: 1, drainTimeout: "1 second", handlerTimeout: "1 day" })
          .pipe(Effect.provide(logs.layer))
        yield* bus.subscribe("OrderCreated", () => Effect.never)
        yield* bus.publishAll([created("a"), created("b")])
        yield* settle
        const waiting = yield* Effect.fork(bus.publish(created("c")))
        yield* settle
        const closing = yield* Effect.fork(close)
        yield* settle
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(closing)
        yield* Fiber.join(waiting)
        const reported = logs.entries.filter((l) => l.message.includes("left on the order queue"))
        expect(reported.map((l) => l.annotations.clientOrderId)).toEqual(["a", "b", "c"])
      }))

    it.effect("stops at once when nothing is queued", () =>
      Effect.gen(function*() {
        const { bus, close } = yield* openBus()
        yield* bus.subscribe("CandleClosed", () => Effect.void)
        yield* close
        expect((yield* Effect.flip(bus.publish(closed(1))))._tag).toBe("BusClosedError")
      }))
  })

  describe("events no handler listens to", () => {
    it.scoped("are handled at once, never queued (a full queue does not hold them back), and counted", () =>
      Effect.gen(function*() {
        const { bus } = yield* openBus({ signalCapacity: 1 })
        const release = yield* Deferred.make<void>()
        yield* bus.subscribe("SignalGenerated", () => Deferred.await(release))
        yield* bus.publishAll([signal(1), signal(2)])
        // the signal queue is full behind its held handler: a type nobody handles still goes through at once
        yield* bus.publish(makeEventAt("OrderRejected", order("r1"), 0), "signal")
        yield* bus.publish(makeEventAt("PositionUpdated", {
          symbol: "ETHUSDT",
          quantity: one,
          averageEntryPrice: one,
          markPrice: one,
          realizedPnl: one,
          unrealizedPnl: one,
          updatedAt: 0
        }, 0), "data")
        const stats = yield* bus.stats
        expect([stats.signal.size, stats.signal.processed, stats.data.processed]).toEqual([1, 1, 1])
        yield* Deferred.succeed(release, void 0)
        yield* settle
        expect((yield* bus.stats).signal.processed).toBe(3)
      }))

    it.scoped("are queued on a queue with hooks, which see them", () =>
      Effect.gen(function*() {
        const { hooks, trace } = tracingHooks()
        const { bus } = yield* openBus().pipe(Effect.provide(hooks))
        yield* bus.publish(created("o1"))
        yield* settle
        expect(trace).toEqual(["before OrderCreated", "after OrderCreated"])
        expect((yield* bus.stats).order.processed).toBe(1)
      }))
  })

  describe("hooks", () => {
    it.scoped("call beforeEnqueue before an event is queued and afterHandled after all its handlers, on their queues only", () =>
      Effect.gen(function*() {
        const { hooks, trace } = tracingHooks()
        const { bus } = yield* openBus().pipe(Effect.provide(hooks))
        yield* bus.subscribe("OrderCreated", () => Effect.sync(() => trace.push("handler 1")))
        yield* bus.subscribe("OrderCreated", () => Effect.sync(() => trace.push("handler 2")))
        yield* bus.subscribe("CandleClosed", () => Effect.sync(() => trace.push("candle")))
        yield* bus.publish(closed(1))
        yield* bus.publish(created("o1"))
        yield* settle
        expect(trace).toEqual(["before OrderCreated", "candle", "handler 1", "handler 2", "after OrderCreated"])
      }))

    it.effect("afterHandled is told whether one of the event's handlers failed, died or timed out", () =>
      Effect.gen(function*() {
        const outcomes: Array<string> = []
        const hooks = Layer.succeed(EventBusHooks, {
          queues: ["order"],
          beforeEnqueue: () => Effect.void,
          afterHandled: (e, _queue, { failed }) =>
            Effect.sync(() => outcomes.push(`${(e as BusEvent<"OrderCreated">).payload.clientOrderId} ${failed ? "failed" : "ok"}`))
        })
        yield* Effect.scoped(Effect.gen(function*() {
          const { bus } = yield* openBus({ handlerTimeout: "1 second" }).pipe(Effect.provide(hooks))
          yield* bus.subscribe("OrderCreated", (e) => {
            switch (e.payload.clientOrderId) {
              case "fails":
                return Effect.fail("no")
              case "dies":
                return Effect.die(new Error("boom"))
              case "hangs":
                return Effect.never
              default:
                return Effect.void
            }
          })
          yield* bus.subscribe("OrderCreated", () => Effect.void)
          yield* bus.publishAll(["ok", "fails", "ok2", "dies", "hangs", "ok3"].map(created))
          yield* TestClock.adjust("2 seconds")
          yield* settle
        }))
        expect(outcomes).toEqual(["ok ok", "fails failed", "ok2 ok", "dies failed", "hangs failed", "ok3 ok"])
      }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))

    it.scoped("a failing beforeEnqueue fails the publish and enqueues nothing", () =>
      Effect.gen(function*() {
        const hooks = Layer.succeed(EventBusHooks, {
          queues: ["order"],
          beforeEnqueue: () => Effect.die(new Error("disk full")),
          afterHandled: () => Effect.void
        })
        const { bus } = yield* openBus().pipe(Effect.provide(hooks))
        const exit = yield* Effect.exit(bus.publish(created("o1")))
        expect(Exit.isFailure(exit) && String(Cause.squash(exit.cause))).toContain("disk full")
        yield* settle
        expect((yield* bus.stats).order).toMatchObject({ size: 0, processed: 0 })
      }))
  })

  describe("configuration", () => {
    it.effect.each([
      [{ dataCapacity: 0 }, "dataCapacity"],
      [{ orderCapacity: 1.5 }, "orderCapacity"],
      [{ signalCapacity: -1 }, "signalCapacity"],
      [{ signalPublishTimeout: "0 seconds" }, "signalPublishTimeout"],
      [{ drainTimeout: "-1 seconds" }, "drainTimeout"],
      [{ handlerTimeout: "soon" }, "handlerTimeout"]
    ] as const)("fails the layer with a typed error naming %j", ([config, setting]) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Layer.build(MemoryEventBus.layer(config as never)).pipe(Effect.scoped))
        expect(error).toBeInstanceOf(EventBusConfigError)
        expect(error).toMatchObject({ _tag: "EventBusConfigError", setting })
        expect(error.message).toContain(setting)
      }))

    it.scoped("reads its settings from the environment", () =>
      Effect.gen(function*() {
        const bus = yield* EventBus
        const stats = yield* bus.stats
        expect([stats.data.capacity, stats.signal.capacity, stats.order.capacity]).toEqual([7, 100, 3])
      }).pipe(
        Effect.provide(MemoryEventBus.layerFromEnv),
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["TRADING_BUS_DATA_CAPACITY", "7"], ["TRADING_BUS_ORDER_CAPACITY", "3"]]))
        )
      ))

    it.effect("names the variable of an invalid environment setting", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Layer.build(MemoryEventBus.layerFromEnv).pipe(Effect.scoped))
        expect(String(error)).toContain("TRADING_BUS_DRAIN_TIMEOUT")
      }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["TRADING_BUS_DRAIN_TIMEOUT", "whenever"]])))
      ))
  })
})
