import { Data } from "effect"
import type { QueueName } from "./BusEvent.js"

/** A publish to a full bounded queue gave up (the `signal` queue after `signalPublishTimeout`). */
export class QueueFullError extends Data.TaggedError("QueueFullError")<{
  readonly queue: QueueName
  readonly size: number
  readonly capacity: number
}> {
  override get message() {
    return `the ${this.queue} queue is full (${this.size}/${this.capacity})`
  }
}

/** A publish after the bus began shutting down. */
export class BusClosedError extends Data.TaggedError("BusClosedError")<{
  readonly queue: QueueName
  readonly size: number
  readonly capacity: number
}> {
  override get message() {
    return `the bus is shut down: the ${this.queue} queue accepts no more events (${this.size}/${this.capacity} queued)`
  }
}

/** A bus setting that cannot work; `setting` names it as the layer's options do. */
export class EventBusConfigError extends Data.TaggedError("EventBusConfigError")<{
  readonly setting: string
  readonly value: unknown
  readonly reason: string
}> {
  override get message() {
    return `invalid event bus setting ${this.setting}=${String(this.value)}: ${this.reason}`
  }
}
