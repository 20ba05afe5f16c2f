import { EventEmitter } from "node:events"
import { Deferred, Effect, Fiber, Queue } from "effect"
import { type BusEvent, type EventType, makeEventAt, type QueueName } from "../src/domain/BusEvent.js"
import type { EventBusConfig } from "../src/domain/EventBusConfig.js"
import * as MemoryEventBus from "../src/layers/bus/MemoryEventBus.js"
import { EventBus } from "../src/services/EventBus.js"

/** One event type per queue, so a scenario can load one queue or all three. */
export const typeOf: { readonly [Q in QueueName]: EventType } = {
  data: "CandleClosed",
  signal: "SignalGenerated",
  order: "OrderCreated"
}

/** Pre-built events (the bus neither copies nor validates payloads, so a shared payload is fair). */
export const makeEvents = (type: EventType, n: number): Array<BusEvent> => {
  const payload = { seq: 0 } as never
  return Array.from({ length: n }, () => makeEventAt(type, payload, 0, { source: "bench" }))
}

/** The baseline every ratio is against: a raw Effect Queue.bounded pair, one take per item. */
export const rawQueuePerItem = (events: ReadonlyArray<BusEvent>, capacity: number) =>
  Effect.gen(function*() {
    const q = yield* Queue.bounded<BusEvent>(capacity)
    const n = events.length
    const done = yield* Deferred.make<void>()
    const consumer = yield* Effect.fork(Effect.gen(function*() {
      for (let seen = 0; seen < n; seen++) yield* Queue.take(q)
      yield* Deferred.succeed(done, undefined)
    }))
    const t0 = performance.now()
    for (const e of events) yield* Queue.offer(q, e)
    yield* Deferred.await(done)
    const elapsed = performance.now() - t0
    yield* Fiber.interrupt(consumer)
    return (n / elapsed) * 1000
  })

/** The same pair with the consumer taking everything queued after each wake-up. */
export const rawQueueBatched = (events: ReadonlyArray<BusEvent>, capacity: number) =>
  Effect.gen(function*() {
    const q = yield* Queue.bounded<BusEvent>(capacity)
    const n = events.length
    const done = yield* Deferred.make<void>()
    const consumer = yield* Effect.fork(Effect.gen(function*() {
      let seen = 0
      while (seen < n) {
        yield* Queue.take(q)
        const rest = yield* Queue.takeAll(q)
        seen += 1 + rest.length
      }
      yield* Deferred.succeed(done, undefined)
    }))
    const t0 = performance.now()
    for (const e of events) yield* Queue.offer(q, e)
    yield* Deferred.await(done)
    const elapsed = performance.now() - t0
    yield* Fiber.interrupt(consumer)
    return (n / elapsed) * 1000
  })

export const eventEmitter = (events: ReadonlyArray<BusEvent>) => {
  const emitter = new EventEmitter()
  let seen = 0
  emitter.on("event", () => {
    seen++
  })
  const t0 = performance.now()
  for (const e of events) emitter.emit("event", e)
  const elapsed = performance.now() - t0
  if (seen !== events.length) throw new Error("EventEmitter lost events")
  return (events.length / elapsed) * 1000
}

export type PublishMode = "one-by-one" | "publishAll"

/**
 * Our bus end to end: publishers for the given queues run concurrently, each
 * publishing its events, and the clock stops when every event has reached its
 * no-op handler (or, on the sliding queue, was pushed out).
 */
export const busThroughput = (
  loads: ReadonlyArray<readonly [QueueName, ReadonlyArray<BusEvent>]>,
  mode: PublishMode,
  config: Partial<EventBusConfig>
) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const total = loads.reduce((n, [, events]) => n + events.length, 0)
    let handled = 0
    const done = yield* Deferred.make<void>()
    const check = () => {
      if (handled === total) Deferred.unsafeDone(done, Effect.void)
    }
    for (const [q] of loads) {
      yield* bus.subscribe(typeOf[q], () => {
        handled++
        check()
        return Effect.void
      })
    }
    const publish = (q: QueueName, events: ReadonlyArray<BusEvent>) =>
      mode === "publishAll"
        ? bus.publishAll(events, q)
        : Effect.gen(function*() {
          for (const e of events) yield* bus.publish(e, q)
        })
    const t0 = performance.now()
    yield* Effect.forEach(loads, ([q, events]) => publish(q, events), { concurrency: "unbounded", discard: true })
    // pushed-out events never reach the handler: count them as settled
    const stats = yield* bus.stats
    handled += stats.data.dropped
    check()
    yield* Deferred.await(done)
    const elapsed = performance.now() - t0
    const after = yield* bus.stats
    return { perSecond: ((total - after.data.dropped) / elapsed) * 1000, dropped: after.data.dropped }
  }).pipe(Effect.provide(MemoryEventBus.layer(config)))
