import { Effect, Layer } from "effect"
import { EventBusHooks } from "../../../services/EventBusHooks.js"
import type { PipelineBarrier } from "../BacktestTracker.js"
import type { PublishCounter } from "./BacktestInput.js"

/**
 * How a backtest's driver and its handlers wait for each other without polling. A poll would be a yield per
 * look, and a busy scheduler defers those (Effect moves a fiber that yielded 2,048 times in a row to a timer):
 * the waits are wake-ups instead, from the bus's own hooks. A wait is an `Effect.async` callback, not a
 * `Deferred`: making a Deferred costs some 5-15 us here, a wait happens once or twice per order.
 */

/**
 * Suspends until `wake` is called; `set` keeps the callback (undefined once woken). No canceler (it would wrap
 * each wait in an interruption handler, some 8 fiber steps): an interrupted wait's callback is replaced by the
 * next wait, and calling it meanwhile does nothing (a fiber ignores a stale resume).
 */
const waitFor = (set: (wake: (() => void) | undefined) => void): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    set(() => {
      set(undefined)
      resume(Effect.void)
    })
  })

/**
 * The trading pipeline (the signal and order queues) has handled all that was published to it, the orders held
 * for their next open aside. `hooks` counts what those queues handled (the bus calls them after an event's
 * handlers ran) and wakes a waiter when the count catches up; `held` wakes it when an order starts to wait.
 */
export const makePipelineBarrier = (counter: PublishCounter, heldNow: () => number, releasedNow: () => number) => {
  let processed = 0
  let waiter: (() => void) | undefined
  const setWaiter = (w: (() => void) | undefined) => {
    waiter = w
  }
  // where it last was settled: nothing published to the pipeline and no held order let go since means settled
  let settledAt = { published: 0, released: 0 }
  const idle = () => counter.pipeline === processed + heldNow()
  const wake = () => {
    if (waiter !== undefined && idle()) waiter()
  }
  const hooks = Layer.succeed(
    EventBusHooks,
    EventBusHooks.of({
      queues: ["signal", "order"],
      beforeEnqueue: () => Effect.void,
      // counts when called and returns a completed Effect: no fiber step per pipeline event
      afterHandled: () => {
        processed++
        wake()
        return Effect.void
      }
    })
  )
  const settle = () => {
    settledAt = { published: counter.pipeline, released: releasedNow() }
  }
  const barrier: PipelineBarrier = {
    settled: () => counter.pipeline === settledAt.published && releasedNow() === settledAt.released,
    // one callback, no generator: a wait happens twice per order
    await: Effect.async<void>((resume) => {
      if (idle()) {
        settle()
        return resume(Effect.void)
      }
      setWaiter(() => {
        setWaiter(undefined)
        settle()
        resume(Effect.void)
      })
    })
  }
  return { hooks, barrier, held: wake }
}

/**
 * Room in the sliding data queue: the driver waits until the handlers have taken all but `ahead` of the candles
 * published, so that what it publishes next (and the marks those candles add) never pushes one out.
 */
export const makeRoomGate = () => {
  let taken = 0
  let wanted = 0
  let waiter: (() => void) | undefined
  const setWaiter = (w: (() => void) | undefined) => {
    waiter = w
  }
  return {
    /** A candle was taken by its first handler. */
    took: () => {
      taken++
      if (waiter !== undefined && taken >= wanted) waiter()
    },
    /** Waits until at most `ahead` of `published` candles are still to be taken. */
    await: (published: number, ahead: number) =>
      Effect.gen(function*() {
        wanted = published - ahead
        if (taken >= wanted) return
        yield* waitFor(setWaiter)
      })
  }
}
