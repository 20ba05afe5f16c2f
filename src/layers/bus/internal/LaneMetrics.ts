import type { Metric } from "effect"
import { defaultQueue, type EventType, type QueueName } from "../../../domain/BusEvent.js"
import {
  eventsDroppedTotal,
  eventsProcessedTotal,
  eventsPublishedTotal,
  handlerDurationSeconds,
  handlerFailuresTotal,
  labelled,
  publishWaitSeconds
} from "../../../domain/Metrics.js"
import { DurationTally, RunTimer } from "./HandlerTiming.js"

const noTags: ReadonlyArray<never> = []

type Counter = Metric.Metric.Counter<number>

const publishedBy = labelled(eventsPublishedTotal, "queue", "type")
const processedBy = labelled(eventsProcessedTotal, "queue", "type")
const droppedBy = labelled(eventsDroppedTotal, "queue")
const failuresBy = labelled(handlerFailuresTotal, "queue", "handler")
const waitBy = labelled(publishWaitSeconds, "queue")

/** Each queue's slot in `HandlerTallies`. */
const slotOf: { readonly [Q in QueueName]: number } = { data: 0, signal: 1, order: 2 }

/**
 * A handler's durations on each queue (by `slotOf`), made at its first
 * timed call on that queue and kept with the subscription: no lookup per call.
 */
export type HandlerTallies = Array<DurationTally | undefined>

/** A handler as the metrics see it (a `Subscription`). */
export interface TimedHandler {
  readonly name: string
  readonly tallies: HandlerTallies
}

/** Events of one type counted and not yet added to their counter. */
interface Tally {
  readonly type: EventType
  readonly counter: Counter
  pending: number
}

/**
 * Per-type counts in plain numbers: counting is a comparison and an
 * increment (the last type counted is kept at hand), `flush` adds them to
 * the Effect counters. A queue carries a handful of event types, so a list
 * searched on a change of type is enough.
 */
const makeTallies = (counterOf: (type: EventType) => Counter) => {
  const all: Array<Tally> = []
  let last: Tally = { type: "" as EventType, counter: undefined as never, pending: 0 }
  const find = (type: EventType): Tally => {
    for (const tally of all) if (tally.type === type) return tally
    const tally: Tally = { type, counter: counterOf(type), pending: 0 }
    all.push(tally)
    return tally
  }
  return {
    add: (type: EventType): void => {
      if (last.type !== type) last = find(type)
      last.pending++
    },
    flush: (): void => {
      for (const tally of all) {
        if (tally.pending > 0) {
          tally.counter.unsafeUpdate(tally.pending, noTags)
          tally.pending = 0
        }
      }
    }
  }
}

/**
 * One queue's metrics. The per-event counters (published, processed,
 * dropped) are counted in plain numbers and added to the Effect counters by
 * `flush`: the bus flushes every second, when its stats are read, when it
 * closes, and before every `PrometheusExporter.scrape` (`Metrics.flushPending`).
 * Handler durations are timed by `timer` and counted per handler in plain
 * numbers, flushed with them. The publish-wait histogram and the failure
 * counter are updated on every wait and failure, through hooks looked up once.
 */
export interface LaneMetrics {
  readonly published: (type: EventType) => void
  readonly processed: (type: EventType) => void
  readonly dropped: () => void
  readonly failed: (handler: string) => void
  /** A handler subscribed to a type of this queue: its failure counter and durations are exported at 0. */
  readonly subscribed: (handler: TimedHandler) => void
  /** Times the queue's handler calls (the processor tells it when calls end). */
  readonly timer: RunTimer<TimedHandler>
  /** Seconds a publisher waited for room. */
  readonly waited: (seconds: number) => void
  /** Adds the counts not yet added to the Effect counters. */
  readonly flush: () => void
}

const memo = <M>(make: (key: string) => M) => {
  const cache = new Map<string, M>()
  return (key: string): M => {
    let m = cache.get(key)
    if (m === undefined) {
      m = make(key)
      cache.set(key, m)
    }
    return m
  }
}

export const makeLaneMetrics = (queue: QueueName): LaneMetrics => {
  const published = makeTallies((type) => publishedBy(queue, type))
  const processed = makeTallies((type) => processedBy(queue, type))
  const failures = memo((handler): Counter => failuresBy(queue, handler))
  const slot = slotOf[queue]
  const tallies: Array<DurationTally> = []
  const tallyOf = (handler: TimedHandler): DurationTally => {
    let tally = handler.tallies[slot]
    if (tally === undefined) {
      tally = new DurationTally(handlerDurationSeconds.series(queue, handler.name))
      handler.tallies[slot] = tally
      tallies.push(tally)
    }
    return tally
  }
  const droppedCounter = droppedBy(queue)
  let dropped = 0
  const wait = waitBy(queue)
  // Series whose labels are known now are exported from the start at 0, as Prometheus's guidelines ask: an alert
  // on `rate(trading_bus_events_dropped_total[5m]) > 0` needs a series to watch before the first drop.
  droppedCounter.register()
  wait.register()
  for (const type of Object.keys(defaultQueue) as Array<EventType>) {
    if (defaultQueue[type] !== queue) continue
    publishedBy(queue, type).register()
    processedBy(queue, type).register()
  }
  return {
    published: published.add,
    processed: processed.add,
    dropped: () => {
      dropped++
    },
    failed: (handler) => failures(handler).unsafeUpdate(1, noTags),
    subscribed: (handler) => {
      failures(handler.name).register()
      handlerDurationSeconds.series(queue, handler.name).register()
    },
    timer: new RunTimer(tallyOf),
    waited: (seconds) => wait.unsafeUpdate(seconds, noTags),
    flush: () => {
      published.flush()
      processed.flush()
      for (const tally of tallies) tally.flush()
      if (dropped > 0) {
        droppedCounter.unsafeUpdate(dropped, noTags)
        dropped = 0
      }
    }
  }
}
