import type { Metric } from "effect"
import type { EventType, QueueName } from "../../domain/BusEvent.js"
import {
  eventsDroppedTotal,
  eventsProcessedTotal,
  eventsPublishedTotal,
  handlerDurationSeconds,
  handlerFailuresTotal,
  labelled,
  publishWaitSeconds
} from "../../domain/Metrics.js"

const noTags: ReadonlyArray<never> = []

type Counter = Metric.Metric.Counter<number>
type Histogram = Metric.Metric.Histogram<number>

const publishedBy = labelled(eventsPublishedTotal, "queue", "type")
const processedBy = labelled(eventsProcessedTotal, "queue", "type")
const droppedBy = labelled(eventsDroppedTotal, "queue")
const failuresBy = labelled(handlerFailuresTotal, "queue", "handler")
const durationBy = labelled(handlerDurationSeconds, "queue", "handler")
const waitBy = labelled(publishWaitSeconds, "queue")

/**
 * One queue's metrics, with each labelled metric looked up once and then
 * updated through its cached hook: a Map lookup and an addition per event.
 */
export interface LaneMetrics {
  readonly published: (type: EventType) => void
  readonly processed: (type: EventType, count: number) => void
  readonly dropped: () => void
  readonly failed: (handler: string) => void
  /** Seconds one handler took on one event. */
  readonly handled: (handler: string, seconds: number) => void
  /** Seconds a publisher waited for room. */
  readonly waited: (seconds: number) => void
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
  const published = memo((type): Counter => publishedBy(queue, type))
  const processed = memo((type): Counter => processedBy(queue, type))
  const failures = memo((handler): Counter => failuresBy(queue, handler))
  const durations = memo((handler): Histogram => durationBy(queue, handler))
  const dropped = droppedBy(queue)
  const wait = waitBy(queue)
  return {
    published: (type) => published(type).unsafeUpdate(1, noTags),
    processed: (type, count) => processed(type).unsafeUpdate(count, noTags),
    dropped: () => dropped.unsafeUpdate(1, noTags),
    failed: (handler) => failures(handler).unsafeUpdate(1, noTags),
    handled: (handler, seconds) => durations(handler).unsafeUpdate(seconds, noTags),
    waited: (seconds) => wait.unsafeUpdate(seconds, noTags)
  }
}
