import { Effect, type Fiber, Queue } from "effect"
import type { BusEvent, EventType, QueueName } from "../../../domain/BusEvent.js"
import type { EventHandler } from "../../../services/EventBus.js"
import { type HandlerTallies, type LaneMetrics, makeLaneMetrics } from "./LaneMetrics.js"
import { RingBuffer } from "./RingBuffer.js"

/** A subscribed handler with the name it is logged under. */
export interface Subscription {
  readonly name: string
  readonly handle: EventHandler<EventType>
  /** Its durations, filled in by the lanes that run it with metrics on. */
  readonly tallies: HandlerTallies
}

/** How a queue behaves when it is full. */
export type OverflowPolicy = "slide" | "wait-bounded" | "wait"

/**
 * One queue of the bus and everything its processor, watchdog and
 * publishers share. Plain mutable fields: they are read and written only from
 * the one JS thread, and each read-modify-write happens inside one
 * synchronous step.
 */
export interface Lane {
  readonly name: QueueName
  readonly policy: OverflowPolicy
  readonly queue: Queue.Queue<BusEvent>
  readonly capacity: number
  dropped: number
  processed: number
  failed: number

  /** The processor's in-hand batch; `index` is the event in progress (or `batch.length` when none is). */
  batch: ReadonlyArray<BusEvent>
  index: number
  /** The handlers of the event in progress (a snapshot) and the one running now. */
  handlers: ReadonlyArray<Subscription>
  handlerIndex: number
  /** Events the processor published onto its own full queue: waiting would deadlock, so they queue here. */
  overflow: Array<BusEvent>
  /** Events whose publishers are blocked on a full queue. */
  readonly waiting: Set<BusEvent>

  /** The processor fiber now running (replaced on restart). */
  fiber: Fiber.RuntimeFiber<never, unknown> | undefined
  /** Blocked on an empty queue. */
  idle: boolean
  /** Set while the processor waits on the empty queue: the publish path calls it after an offer. */
  offered: (() => void) | undefined
  /** A handler is running, since `startedAt` (Clock millis). */
  busy: boolean
  startedAt: number
  /** The watchdog is awake; when it is not, the processor opens `wake` as it becomes active. */
  watching: boolean
  readonly wake: Effect.Latch
  /** Set by the watchdog just before it interrupts a handler that ran past its timeout. */
  timedOut: boolean
  /** The EventBusHooks, when this queue has them. */
  readonly beforeEnqueue: ((event: BusEvent) => Effect.Effect<void>) | undefined
  readonly afterHandled: ((event: BusEvent, failed: boolean) => Effect.Effect<void>) | undefined
  /** `failed` when the event in hand reached its first handler: more now means one of its handlers failed. */
  failedBefore: number
  /** The queue's Effect metrics, unless the bus runs with `metrics: false`. */
  readonly metrics: LaneMetrics | undefined
  /** Each handler call runs in a `trading-bus.handler` span (the bus's `tracing` setting). */
  readonly tracing: boolean
}

export interface LaneHooks {
  readonly beforeEnqueue: (event: BusEvent) => Effect.Effect<void>
  readonly afterHandled: (event: BusEvent, failed: boolean) => Effect.Effect<void>
}

export const makeLane = (
  name: QueueName,
  policy: OverflowPolicy,
  capacity: number,
  hooks: LaneHooks | undefined,
  metrics: boolean,
  tracing = false
): Effect.Effect<Lane> =>
  Effect.gen(function*() {
    const queue = yield* Queue.make<BusEvent>(
      new RingBuffer<BusEvent>(capacity),
      policy === "slide" ? Queue.slidingStrategy<BusEvent>() : Queue.backPressureStrategy<BusEvent>()
    )
    return {
      name,
      policy,
      queue,
      capacity,
      dropped: 0,
      processed: 0,
      failed: 0,
      batch: [],
      index: 0,
      handlers: [],
      handlerIndex: 0,
      overflow: [],
      waiting: new Set(),
      fiber: undefined,
      idle: true,
      offered: undefined,
      busy: false,
      startedAt: 0,
      watching: false,
      wake: yield* Effect.makeLatch(false),
      timedOut: false,
      beforeEnqueue: hooks?.beforeEnqueue,
      afterHandled: hooks?.afterHandled,
      failedBefore: 0,
      metrics: metrics ? makeLaneMetrics(name) : undefined,
      tracing
    }
  })

/**
 * Events in the queue, at most its capacity: Effect's size also counts
 * blocked publishers (not in yet), and the processor's in-hand batch is out
 * of the queue already. Overflow from handlers publishing onto their own full
 * queue is counted too.
 */
export const queuedSize = (lane: Lane): number => {
  const size = lane.queue.unsafeSize()
  return (size._tag === "Some" ? Math.max(0, size.value - lane.waiting.size) : 0) + lane.overflow.length
}

/**
 * Everything the lane holds that no handler has finished: in hand, overflow,
 * queued, and blocked publishers (a publisher let in by the last takes is in
 * both of the last two until it resumes: count it once).
 */
export const unhandled = (lane: Lane, queued: ReadonlyArray<BusEvent>): ReadonlyArray<BusEvent> => [
  ...new Set([...lane.batch.slice(lane.index), ...lane.overflow, ...queued, ...lane.waiting])
]
