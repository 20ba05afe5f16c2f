import { Deferred, Effect, Exit, Fiber, Queue } from "effect"
import type { BusEvent } from "../src/domain/BusEvent.js"
import * as MemoryEventBus from "../src/layers/bus/MemoryEventBus.js"
import { EventBus } from "../src/services/EventBus.js"
import type { PublishMode } from "./scenarios.js"

/**
 * The handlers people write, each on the bus and in a raw `Queue.bounded` consumer loop: the same handler
 * function, the same events, the same work. The work: count the event, add its timestamp to a sum, and
 * complete the run's `Deferred` at the last one (so neither side needs anything else to know it is done).
 */

export type HandlerShape = "inline" | "sync" | "gen"

export const shapeNotes: Readonly<Record<HandlerShape, string>> = {
  inline: "does its work when called, returns `Effect.void`",
  sync: "`Effect.sync(() => work)`",
  gen: "`Effect.gen(function*() { work })`"
}

const makeHandler = (shape: HandlerShape, n: number, done: Deferred.Deferred<void>) => {
  let seen = 0
  let sum = 0
  const work = (event: BusEvent) => {
    sum += event.timestamp
    if (++seen === n) Deferred.unsafeDone(done, Exit.void)
  }
  const handler: (event: BusEvent) => Effect.Effect<void> = shape === "inline"
    ? (event) => {
      work(event)
      return Effect.void
    }
    : shape === "sync"
    ? (event) => Effect.sync(() => work(event))
    : (event) =>
      Effect.gen(function*() {
        work(event)
      })
  return { handler, sum: () => sum }
}

/** A raw `Queue.bounded` pair: the producer offers one at a time, one consumer fiber takes one and runs the handler. */
export const rawLoop = (shape: HandlerShape, events: ReadonlyArray<BusEvent>, capacity: number) =>
  Effect.gen(function*() {
    const q = yield* Queue.bounded<BusEvent>(capacity)
    const done = yield* Deferred.make<void>()
    const { handler } = makeHandler(shape, events.length, done)
    // a plain loop (Effect.forever would yield to the scheduler after every event)
    const consumer = yield* Effect.fork(Effect.gen(function*() {
      while (true) yield* handler(yield* Queue.take(q))
    }))
    const t0 = performance.now()
    for (const e of events) yield* Queue.offer(q, e)
    yield* Deferred.await(done)
    const elapsed = performance.now() - t0
    yield* Fiber.interrupt(consumer)
    return (events.length / elapsed) * 1000
  })

/** The bus's order queue (capacity as the raw pair's), the same handler subscribed, `publish` or `publishAll`. */
export const onBus = (shape: HandlerShape, mode: PublishMode, events: ReadonlyArray<BusEvent>, capacity: number) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const done = yield* Deferred.make<void>()
    const { handler } = makeHandler(shape, events.length, done)
    yield* bus.subscribe("OrderCreated", handler)
    const t0 = performance.now()
    if (mode === "publishAll") yield* bus.publishAll(events, "order")
    else for (const e of events) yield* bus.publish(e, "order")
    yield* Deferred.await(done)
    return (events.length / (performance.now() - t0)) * 1000
  }).pipe(Effect.provide(MemoryEventBus.layer({ orderCapacity: capacity })))

const shapes: ReadonlyArray<HandlerShape> = ["inline", "sync", "gen"]

/**
 * Every shape on the raw loop and on the bus (`publish`, `publishAll`), interleaved rounds (every other one
 * backwards) after a warm-up round; medians. Returns the table's markdown, one row per shape.
 */
export const handlerShapeTable = async (events: ReadonlyArray<BusEvent>, capacity: number, rounds: number) => {
  const rows = shapes.flatMap((shape) => [
    { shape, kind: "raw", run: () => rawLoop(shape, events, capacity), rates: [] as Array<number> },
    { shape, kind: "publish", run: () => onBus(shape, "one-by-one", events, capacity), rates: [] as Array<number> },
    { shape, kind: "publishAll", run: () => onBus(shape, "publishAll", events, capacity), rates: [] as Array<number> }
  ])
  for (let r = 0; r <= rounds; r++) {
    for (const row of r % 2 === 0 ? rows : [...rows].reverse()) {
      const rate = await Effect.runPromise(row.run())
      if (r > 0) row.rates.push(rate)
    }
    process.stdout.write("~")
  }
  process.stdout.write("\n")
  const sorted = (xs: Array<number>) => [...xs].sort((a, b) => a - b)
  const median = (xs: Array<number>) => sorted(xs)[xs.length >> 1]!
  const rate = (shape: HandlerShape, kind: string) => median(rows.find((r) => r.shape === shape && r.kind === kind)!.rates)
  const fmt = (perSecond: number) => `${(perSecond / 1e3).toFixed(0)} k/s`
  return [
    "| handler shape | raw Queue loop (1.00) | bus, publish | ratio | bus, publishAll | ratio | target publish >= 1.0 |",
    "|---|---:|---:|---:|---:|---:|---|",
    ...shapes.map((shape) => {
      const raw = rate(shape, "raw")
      const [one, all] = [rate(shape, "publish"), rate(shape, "publishAll")]
      return `| ${shape}: ${shapeNotes[shape]} | ${fmt(raw)} | ${fmt(one)} | ${(one / raw).toFixed(2)} | ${fmt(all)} | ${
        (all / raw).toFixed(2)
      } | ${one / raw >= 1 ? "met" : "**missed**"} |`
    })
  ].join("\n")
}
