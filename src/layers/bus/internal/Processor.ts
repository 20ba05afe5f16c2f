import { type Cause, Chunk, type Clock, Duration, Effect, Fiber, Queue } from "effect"
import type { BusEvent, EventType } from "../../../domain/BusEvent.js"
import { isCompleted } from "./completed.js"
import { type Drain, settle } from "./Drain.js"
import type { Lane, Subscription } from "./Lane.js"


const noHandlers: ReadonlyArray<Subscription> = []

/**
 * `performance`, read once: in Node the global is an accessor, and going through it costs about a fifth of a
 * clock read (some 15-20 ns of 70 here).
 */
const perf = globalThis.performance

export interface ProcessorEnv {
  readonly registry: ReadonlyMap<EventType, ReadonlyArray<Subscription>>
  readonly drain: Drain
  readonly clock: Clock.Clock
  readonly handlerTimeoutMillis: number
}

const logHandlerFailure = (lane: Lane, event: BusEvent, handler: string, cause: Cause.Cause<unknown>) =>
  Effect.logError(`handler ${handler} failed on ${event.type} ${event.id}`, cause).pipe(
    Effect.annotateLogs({ queue: lane.name, handler, eventType: event.type, eventId: event.id })
  )

/** Calls a handler; a handler that throws instead of returning an Effect is a defect like any other. */
const invoke = (subscription: Subscription, event: BusEvent): Effect.Effect<void, unknown> => {
  try {
    return subscription.handle(event)
  } catch (defect) {
    return Effect.die(defect)
  }
}

/**
 * A handler call in a `trading-bus.handler` span, for the bus's `tracing`
 * setting only. The call itself happens inside the span, so a handler that
 * does its work when called (returning a completed Effect) is timed too.
 */
const traced = (lane: Lane, subscription: Subscription, event: BusEvent): Effect.Effect<void, unknown> =>
  Effect.withSpan(Effect.suspend(() => invoke(subscription, event)), "trading-bus.handler", {
    attributes: { queue: lane.name, handler: subscription.name, eventType: event.type, eventId: event.id },
    // the call site would always be this function: not worth an Error per span
    captureStackTrace: false
  })

/**
 * When a handler call started, for the watchdog, without a clock read per call (some 10% of a call that runs
 * an `Effect.sync` here): the clock is read once per synchronous run of the processor, and again after anything
 * that let other code run. A microtask queued with each read marks the run's end: it runs only once the
 * processor has suspended or yielded, and then the next call reads the clock again. Within one run a call's
 * start is early by what the run's earlier calls took; the processor yields at least every `sliceMillis` plus
 * one batch, so that is the most a timeout can come early by.
 */
const makeCallClock = (clock: Clock.Clock) => {
  let stamp = 0
  let fresh = false
  const expire = () => {
    fresh = false
  }
  return () => {
    if (!fresh) {
      stamp = clock.unsafeCurrentTimeMillis()
      fresh = true
      queueMicrotask(expire)
    }
    return stamp
  }
}

/**
 * Waits until the lane's queue has an event. Not `Queue.take`: a take on an empty Effect queue makes a
 * `Deferred`, which costs some 5-15 us here (more than a whole candle's handlers), and a processor goes idle
 * once or more per order in a backtest. The publish path calls `lane.offered` after each offer that can end
 * the wait (an offer into an empty queue never waits for room).
 */
const awaitOffer = (lane: Lane): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const size = lane.queue.unsafeSize()
    if (size._tag === "Some" && size.value > 0) return resume(Effect.void)
    lane.offered = () => {
      lane.offered = undefined
      resume(Effect.void)
    }
    // No canceler: an Effect.async that returns one is wrapped in an interruption handler (some 8 more fiber
    // steps per wait). An interrupted processor's callback stays in `lane.offered` until the next offer or the
    // restarted processor's wait replaces it; calling it then does nothing (a fiber ignores a stale resume).
  })

/** How many events a processor takes at once: small, so that a sliding queue still drops the oldest. */
const maxBatch = 64

/** How long a processor may run handlers without yielding to the other queues' processors. */
const sliceMillis = 2

/**
 * The processor loop: one generator for the life of the fiber (no per-event
 * fiber, timer or span). Its position lives in the lane, so that after an
 * interruption (a handler timeout, a crash) a new fiber resumes with the
 * next handler of the same event.
 *
 * A handler that returns an already-completed Effect (`Effect.void`,
 * `Effect.succeed`, `Effect.fail`: it did its work when called) is settled
 * inline; any other Effect runs in this fiber under the watchdog.
 */
const process = (lane: Lane, env: ProcessorEnv) =>
  Effect.gen(function*() {
    const { clock, drain, registry } = env
    if (!lane.watching) {
      lane.watching = true
      lane.wake.unsafeOpen()
    }
    const { metrics, tracing } = lane
    const callStart = makeCallClock(clock)
    // where a running handler's failure lands: one function for the fiber's life, not one per call
    let caught: Cause.Cause<unknown> | undefined
    const keepFailure = (cause: Cause.Cause<unknown>) => {
      caught = cause
      return Effect.void
    }
    // With metrics on, handler calls are timed in runs (see RunTimer): a run is closed before anything that is
    // no handler's time (a yield, a take, a log, a hook), and timing starts again after it.
    const timer = metrics?.timer
    let sliceStart = perf.now()
    timer?.close(sliceStart)
    while (true) {
      if (lane.index >= lane.batch.length) {
        const now = perf.now()
        timer?.close(now)
        if (now - sliceStart > sliceMillis) {
          yield* Effect.yieldNow()
          sliceStart = perf.now()
          timer?.close(sliceStart)
        }
        if (lane.overflow.length > 0) {
          lane.batch = lane.overflow
          lane.overflow = []
        } else {
          // an empty queue (no events, no publisher waiting for room) goes straight to the wait: a take would
          // only return nothing, two fiber steps later
          const size = lane.queue.unsafeSize()
          const chunk = size._tag === "Some" && size.value === 0 ? Chunk.empty<BusEvent>() : yield* Queue.takeUpTo(lane.queue, maxBatch)
          if (chunk.length > 0) {
            lane.batch = Chunk.toReadonlyArray(chunk)
            // the take may have yielded to other fibers: their time is no handler's
            timer?.close(perf.now())
          } else {
            lane.idle = true
            yield* awaitOffer(lane)
            // one event, as a take would: what arrives while it is handled waits in the queue
            const first = yield* Queue.takeUpTo(lane.queue, 1)
            lane.idle = false
            sliceStart = perf.now()
            timer?.close(sliceStart)
            if (first.length === 0) continue
            lane.batch = Chunk.toReadonlyArray(first)
          }
        }
        lane.index = 0
        lane.handlerIndex = 0
        lane.failedBefore = lane.failed
        lane.handlers = registry.get(lane.batch[0]!.type) ?? noHandlers
        if (!lane.watching) {
          lane.watching = true
          lane.wake.unsafeOpen()
        }
      }
      const event = lane.batch[lane.index]!
      const handlers = lane.handlers
      while (lane.handlerIndex < handlers.length) {
        const subscription = handlers[lane.handlerIndex]!
        if (timer?.breaks(subscription)) timer.close(perf.now())
        // with tracing on, every call is a span and runs under the watchdog; off, nothing changes
        const effect = tracing ? traced(lane, subscription, event) : invoke(subscription, event)
        let failure: Cause.Cause<unknown> | undefined
        let alone = false
        if (isCompleted(effect)) {
          lane.handlerIndex++
          if (effect._tag === "Failure") failure = effect.cause
        } else {
          // An Effect to run may suspend, so it is timed alone: the open run (this handler's calls before it, and
          // the making of this Effect) ends here.
          if (timer?.open) timer.close(perf.now())
          alone = true
          lane.startedAt = callStart()
          lane.busy = true
          // a failure is caught aside (a success passes through without an Exit made for it)
          caught = undefined
          yield* Effect.catchAllCause(effect, keepFailure)
          failure = caught
          // the watchdog already gave up on it (an uninterruptible handler that overran)
          if (!lane.busy) continue
          lane.busy = false
          lane.handlerIndex++
        }
        if (timer !== undefined && (timer.ended(subscription) || alone || failure !== undefined)) {
          timer.close(perf.now())
        }
        if (failure !== undefined) {
          lane.failed++
          metrics?.failed(subscription.name)
          yield* logHandlerFailure(lane, event, subscription.name, failure)
          timer?.close(perf.now())
        }
      }
      if (lane.afterHandled !== undefined) {
        timer?.close(perf.now())
        // a failing hook must not crash the processor into retrying the same event forever
        const hook = lane.afterHandled(event, lane.failed > lane.failedBefore)
        if (!(isCompleted(hook) && hook._tag === "Success")) {
          yield* Effect.catchAllCause(hook, (cause) => Effect.logError(`the afterHandled hook failed on ${event.type} ${event.id}`, cause))
        }
        timer?.close(perf.now())
      }
      lane.processed++
      metrics?.processed(event.type)
      lane.index++
      lane.handlerIndex = 0
      lane.failedBefore = lane.failed
      if (lane.index < lane.batch.length) lane.handlers = registry.get(lane.batch[lane.index]!.type) ?? noHandlers
      settle(drain)
    }
  })

/**
 * Runs the processor and restarts it whenever it ends other than by the
 * supervisor's own interruption: after a handler timeout (the watchdog
 * interrupted it) or a crash. After a crash the handler that was running
 * is counted as failed, and the new processor goes on with the next one.
 */
export const supervise = (lane: Lane, env: ProcessorEnv): Effect.Effect<never> =>
  Effect.gen(function*() {
    while (true) {
      const fiber = yield* Effect.fork(Effect.interruptible(process(lane, env)))
      lane.fiber = fiber
      const exit = yield* Fiber.await(fiber)
      if (lane.timedOut) {
        lane.timedOut = false
        continue
      }
      yield* Effect.logError(`the ${lane.name} processor stopped unexpectedly; restarting it`, exit).pipe(
        Effect.annotateLogs(runningContext(lane))
      )
      if (lane.busy) {
        lane.busy = false
        lane.failed++
        lane.metrics?.failed(lane.handlers[lane.handlerIndex]?.name ?? "none")
        lane.handlerIndex++
      }
    }
  }).pipe(Effect.interruptible)

const runningContext = (lane: Lane) => {
  const event = lane.batch[lane.index]
  return {
    queue: lane.name,
    handler: lane.handlers[lane.handlerIndex]?.name ?? "none",
    eventType: event?.type ?? "none",
    eventId: event?.id ?? "none"
  }
}

/**
 * One watchdog per processor enforces the handler timeout without a timer per
 * call: asleep while the processor is idle, otherwise it sleeps until the
 * running handler's deadline. A handler still running then is counted as
 * failed and skipped, and its processor interrupted (the supervisor restarts
 * it with the next handler).
 */
export const watchdog = (lane: Lane, env: ProcessorEnv): Effect.Effect<never> =>
  Effect.gen(function*() {
    const { clock, handlerTimeoutMillis } = env
    const timeout = Duration.format(Duration.millis(handlerTimeoutMillis))
    while (true) {
      yield* lane.wake.await
      while (true) {
        if (lane.idle && !lane.busy) {
          lane.watching = false
          lane.wake.unsafeClose()
          break
        }
        const remaining = lane.busy
          ? lane.startedAt + handlerTimeoutMillis - clock.unsafeCurrentTimeMillis()
          : handlerTimeoutMillis
        if (remaining > 0) {
          yield* Effect.sleep(remaining)
          continue
        }
        const context = runningContext(lane)
        lane.busy = false
        lane.failed++
        lane.metrics?.failed(context.handler)
        lane.handlerIndex++
        lane.timedOut = true
        yield* Effect.logError(
          `handler ${context.handler} timed out on ${context.eventType} ${context.eventId} after ${timeout}`
        ).pipe(Effect.annotateLogs(context))
        if (lane.fiber !== undefined) yield* Fiber.interrupt(lane.fiber)
      }
    }
  }).pipe(Effect.interruptible)
