import { type ConfigError, Deferred, Duration, Effect, Fiber, Layer, Queue } from "effect"
import { type BusEvent, defaultQueue, type EventType, type QueueName, queueNames } from "../../domain/BusEvent.js"
import { BusClosedError, type EventBusConfigError, QueueFullError } from "../../domain/Errors.js"
import {
  type EventBusConfig,
  eventBusConfigFromEnv,
  resolveEventBusConfig,
  type ResolvedEventBusConfig
} from "../../domain/EventBusConfig.js"
import * as Metrics from "../../domain/Metrics.js"
import { EventBus, type EventHandler, type SubscribeOptions } from "../../services/EventBus.js"
import { EventBusHooks } from "../../services/EventBusHooks.js"
import { beginClosing, type Drain, makeDrain, settle } from "./internal/Drain.js"
import { type Lane, type LaneHooks, makeLane, queuedSize, type Subscription } from "./internal/Lane.js"
import { type ProcessorEnv, supervise, watchdog } from "./internal/Processor.js"
import { reportUnhandled } from "./internal/Unhandled.js"
import { isCompleted } from "./internal/completed.js"

type Lanes = { readonly [Q in QueueName]: Lane }

/** How stale the bus's counters may be in Effect's metric registry for a reader that does not flush them first. */
export const metricsFlushInterval = Duration.seconds(1)

const makeLanes = (config: ResolvedEventBusConfig) =>
  Effect.gen(function*() {
    const hooks = yield* Effect.serviceOption(EventBusHooks)
    const hooksOf = (queue: QueueName): LaneHooks | undefined => {
      if (hooks._tag === "None" || !hooks.value.queues.includes(queue)) return undefined
      const { afterHandled, beforeEnqueue } = hooks.value
      return { beforeEnqueue: (e) => beforeEnqueue(e, queue), afterHandled: (e, failed) => afterHandled(e, queue, { failed }) }
    }
    return yield* Effect.all({
      data: makeLane("data", "slide", config.dataCapacity, hooksOf("data"), config.metrics, config.tracing),
      signal: makeLane("signal", "wait-bounded", config.signalCapacity, hooksOf("signal"), config.metrics, config.tracing),
      order: makeLane("order", "wait", config.orderCapacity, hooksOf("order"), config.metrics, config.tracing)
    })
  })

const isProcessorFiber = (lanes: Lanes, fiberId: unknown) =>
  queueNames.some((q) => lanes[q].fiber !== undefined && lanes[q].fiber!.id() === fiberId)

/**
 * The publish path. Returns `undefined` when the event was accepted
 * synchronously (the common case: no allocation), or the Effect that
 * finishes the publish on a full or closing queue.
 */
const offerer = (
  lanes: Lanes,
  drain: Drain,
  config: ResolvedEventBusConfig,
  registry: ReadonlyMap<EventType, ReadonlyArray<Subscription>>
) => {
  const signalTimeout = config.signalPublishTimeout

  const closed = (lane: Lane) =>
    new BusClosedError({ queue: lane.name, size: queuedSize(lane), capacity: lane.capacity })

  const waitForRoom = (lane: Lane, event: BusEvent): Effect.Effect<void, QueueFullError | BusClosedError> => {
    drain.pending++
    lane.waiting.add(event)
    const started = performance.now()
    const offer: Effect.Effect<boolean, QueueFullError> = Queue.offer(lane.queue, event)
    const bounded = lane.policy === "wait-bounded"
      ? Effect.timeoutFail(offer, {
        duration: signalTimeout,
        onTimeout: () => {
          lane.waiting.delete(event)
          return new QueueFullError({ queue: lane.name, size: queuedSize(lane), capacity: lane.capacity })
        }
      })
      : offer
    return bounded.pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          lane.waiting.delete(event)
          if (exit._tag === "Failure") return settle(drain)
          lane.metrics?.published(event.type)
          lane.metrics?.waited((performance.now() - started) / 1000)
          lane.offered?.()
        })
      ),
      Effect.asVoid
    )
  }

  const offerFull = (lane: Lane, event: BusEvent): Effect.Effect<void, QueueFullError | BusClosedError> | undefined => {
    if (lane.policy === "slide") {
      // The sliding offer pushes the oldest queued event out: one in, one dropped. It runs to completion here,
      // synchronously, so that no processor can take in between and the count stays exact.
      Effect.runSync(Queue.offer(lane.queue, event))
      lane.dropped++
      lane.metrics?.dropped()
      lane.metrics?.published(event.type)
      lane.offered?.()
      return undefined
    }
    return Effect.withFiberRuntime((fiber) => {
      if (lane.fiber !== undefined && fiber.id() === lane.fiber.id()) {
        // a handler publishing onto its own full queue would wait for itself
        drain.pending++
        lane.overflow.push(event)
        lane.metrics?.published(event.type)
        return Effect.void
      }
      return waitForRoom(lane, event)
    })
  }

  const offerWhileClosing = (lane: Lane, event: BusEvent) =>
    Effect.withFiberRuntime<void, QueueFullError | BusClosedError>((fiber) => {
      // events that handlers derive while the bus drains are part of the drain
      if (!isProcessorFiber(lanes, fiber.id())) return Effect.fail(closed(lane))
      return offer(lane, event) ?? Effect.void
    })

  const offerNow = (lane: Lane, event: BusEvent): Effect.Effect<void, QueueFullError | BusClosedError> | undefined => {
    if (lane.queue.unsafeOffer(event)) {
      drain.pending++
      lane.metrics?.published(event.type)
      lane.offered?.()
      return undefined
    }
    return offerFull(lane, event)
  }

  const offer = (lane: Lane, event: BusEvent): Effect.Effect<void, QueueFullError | BusClosedError> | undefined => {
    if (lane.beforeEnqueue === undefined) return offerNow(lane, event)
    const before = lane.beforeEnqueue(event)
    // a hook that did its work when called (a completed Effect) needs no fiber step before the offer
    if (isCompleted(before) && before._tag === "Success") return offerNow(lane, event)
    return Effect.zipRight(before, Effect.suspend(() => offerNow(lane, event) ?? Effect.void))
  }

  return (event: BusEvent, queue: QueueName | undefined) => {
    const lane = lanes[queue ?? defaultQueue[event.type]]
    if (drain.closing) return offerWhileClosing(lane, event)
    // No handler for its type and no hook on its queue: handling it would run nothing, so it is handled now
    // instead of queued (a backtest's marks while nothing watches positions: half its events)
    if (lane.beforeEnqueue === undefined && lane.afterHandled === undefined && !registry.has(event.type)) {
      lane.processed++
      lane.metrics?.published(event.type)
      lane.metrics?.processed(event.type)
      return undefined
    }
    return offer(lane, event)
  }
}

/**
 * Everything still in a queue once its processor is stopped. Each take lets
 * blocked publishers in (their publish succeeds), so take until nothing is
 * left: their events are reported with the rest instead of vanishing.
 */
const takeRest = (lane: Lane) =>
  Effect.gen(function*() {
    const rest: Array<BusEvent> = []
    while (true) {
      const chunk = yield* Queue.takeAll(lane.queue)
      if (chunk.length === 0) return rest
      rest.push(...chunk)
    }
  })

const make = (config: ResolvedEventBusConfig) =>
  Effect.gen(function*() {
    const lanes = yield* makeLanes(config)
    const hooks = yield* Effect.serviceOption(EventBusHooks)
    const recoverable = hooks._tag === "None" || hooks.value.recoverable === undefined || hooks.value.recoverable === false
      ? []
      : hooks.value.recoverable === true
      ? hooks.value.queues
      : hooks.value.recoverable.filter((q) => hooks.value.queues.includes(q))
    const drain = yield* makeDrain
    const registry = new Map<EventType, ReadonlyArray<Subscription>>()
    const env: ProcessorEnv = {
      registry,
      drain,
      clock: yield* Effect.clock,
      handlerTimeoutMillis: Duration.toMillis(config.handlerTimeout)
    }

    // The per-event counters are plain numbers on the lanes until flushed into the Effect metrics: on every
    // `PrometheusExporter.scrape` (through the registered flusher), on `stats`, every second for any other reader
    // of the registry, and when the bus closes.
    const flushMetrics = () => {
      for (const q of queueNames) lanes[q].metrics?.flush()
    }
    if (config.metrics) {
      const unregister = Metrics.registerFlusher(flushMetrics)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          unregister()
          flushMetrics()
        })
      )
      yield* Effect.forkScoped(
        Effect.forever(Effect.zipRight(Effect.sleep(metricsFlushInterval), Effect.sync(flushMetrics)))
      )
    }

    const fibers = yield* Effect.forEach(
      queueNames,
      (q) => Effect.all([Effect.forkScoped(supervise(lanes[q], env)), Effect.forkScoped(watchdog(lanes[q], env))]),
      { concurrency: "unbounded" }
    )

    // Runs before the scope interrupts the fibers above (finalizers run in reverse order).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        beginClosing(drain)
        const drained = yield* Deferred.await(drain.drained).pipe(
          Effect.interruptible, // a finalizer is uninterruptible: without this the timeout could not fire
          Effect.timeoutOption(config.drainTimeout),
          Effect.map((o) => o._tag === "Some")
        )
        yield* Fiber.interruptAll(fibers.flat())
        const left = yield* Effect.forEach(queueNames, (q) => Effect.map(takeRest(lanes[q]), (queued) => [q, queued] as const))
        yield* Effect.forEach(queueNames, (q) => Queue.shutdown(lanes[q].queue))
        yield* reportUnhandled(lanes, left, drained, config.drainTimeout, recoverable)
      })
    )

    const publishEvent = offerer(lanes, drain, config, registry)
    let subscriptions = 0

    return EventBus.of({
      publish: (event, queue) => Effect.suspend(() => publishEvent(event, queue) ?? Effect.void),
      publishNow: publishEvent,
      publishAll: (events, queue) =>
        Effect.suspend(() => {
          // an array by index: an iterator makes a result object per event
          const all = Array.isArray(events) ? events as ReadonlyArray<BusEvent> : Array.from(events)
          let i = 0
          const loop = (): Effect.Effect<void, QueueFullError | BusClosedError> => {
            while (i < all.length) {
              const pending = publishEvent(all[i++]!, queue)
              if (pending !== undefined) return Effect.flatMap(pending, loop)
            }
            return Effect.void
          }
          return loop()
        }),
      subscribe: <T extends EventType>(type: T, handler: EventHandler<T>, options?: SubscribeOptions) =>
        Effect.sync(() => {
          const existing = registry.get(type) ?? []
          const name = options?.name ?? `${type}#${++subscriptions}`
          const subscription: Subscription = { name, handle: handler as EventHandler<EventType>, tallies: [] }
          // copy on write: a processor iterating a snapshot never sees it change
          registry.set(type, [...existing, subscription])
          const lane: Lane = lanes[defaultQueue[type]]
          lane.metrics?.subscribed(subscription)
        }),
      stats: Effect.sync(() => {
        flushMetrics()
        const of = (lane: Lane) => ({
          size: queuedSize(lane),
          capacity: lane.capacity,
          dropped: lane.dropped,
          processed: lane.processed,
          failed: lane.failed
        })
        return { data: of(lanes.data), signal: of(lanes.signal), order: of(lanes.order) }
      })
    })
  })

/**
 * The in-process bus as a scoped layer. Closing its scope drains every queue
 * (bounded by `drainTimeout`), then stops the processors and reports what was
 * left unhandled.
 */
export const layer = (config?: Partial<EventBusConfig>): Layer.Layer<EventBus, EventBusConfigError> =>
  Layer.scoped(EventBus, Effect.flatMap(resolveEventBusConfig(config), make))

/**
 * The bus with its settings read from the environment (`TRADING_BUS_*`),
 * falling back to `defaults` and then to `defaultEventBusConfig`.
 */
export const layerFromEnvWith = (
  defaults: Partial<EventBusConfig>
): Layer.Layer<EventBus, EventBusConfigError | ConfigError.ConfigError> =>
  Layer.scoped(
    EventBus,
    eventBusConfigFromEnv(defaults).pipe(Effect.flatMap(resolveEventBusConfig), Effect.flatMap(make))
  )

/** The bus with its settings read from the environment (`TRADING_BUS_*`). */
export const layerFromEnv: Layer.Layer<EventBus, EventBusConfigError | ConfigError.ConfigError> = layerFromEnvWith({})
