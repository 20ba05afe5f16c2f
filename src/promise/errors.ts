/**
 * The bus's typed failures as `Error` subclasses, for code that does not use Effect: each carries the same
 * `_tag` and fields as the Effect error it stands for, so `error._tag === "QueueFullError"` or `instanceof`
 * both work.
 */
import { Cause, Exit } from "effect"
import type { QueueName } from "../domain/BusEvent.js"
import * as EffectErrors from "../domain/Errors.js"

interface QueueFields {
  readonly queue: QueueName
  readonly size: number
  readonly capacity: number
}

/** What the two queue failures carry: the queue, and its size and capacity when it failed. */
abstract class QueueStateError extends Error {
  readonly queue: QueueName
  readonly size: number
  readonly capacity: number
  constructor(message: string, fields: QueueFields) {
    super(message)
    this.queue = fields.queue
    this.size = fields.size
    this.capacity = fields.capacity
  }
}

/** A publish to the full `signal` queue gave up after `signalPublishTimeout`. */
export class QueueFullError extends QueueStateError {
  readonly _tag = "QueueFullError" as const
  constructor(fields: QueueFields) {
    super(new EffectErrors.QueueFullError(fields).message, fields)
    this.name = "QueueFullError"
  }
}

/** A publish after `close()` began, or during it from outside a handler. */
export class BusClosedError extends QueueStateError {
  readonly _tag = "BusClosedError" as const
  constructor(fields: QueueFields) {
    super(new EffectErrors.BusClosedError(fields).message, fields)
    this.name = "BusClosedError"
  }
}

/** An option of `createTradingBus` that cannot work, thrown by `createTradingBus` itself. */
export class EventBusConfigError extends Error {
  readonly _tag = "EventBusConfigError" as const
  readonly setting: string
  readonly value: unknown
  readonly reason: string
  constructor(fields: { readonly setting: string; readonly value: unknown; readonly reason: string }) {
    super(new EffectErrors.EventBusConfigError(fields).message)
    this.name = "EventBusConfigError"
    this.setting = fields.setting
    this.value = fields.value
    this.reason = fields.reason
  }
}

/** An event whose type is unknown or whose payload does not match its type's schema; nothing was published. */
export class InvalidEventError extends Error {
  readonly _tag = "InvalidEventError" as const
  readonly type: string
  readonly reason: string
  constructor(fields: { readonly type: string; readonly reason: string }) {
    super(`invalid ${fields.type} event: ${fields.reason}`)
    this.name = "InvalidEventError"
    this.type = fields.type
    this.reason = fields.reason
  }
}

/** The Promise API's form of an Effect failure: a known tagged error becomes its class here, anything else as is. */
export const toPromiseError = (error: unknown): unknown => {
  if (error instanceof EffectErrors.QueueFullError) return new QueueFullError(error)
  if (error instanceof EffectErrors.BusClosedError) return new BusClosedError(error)
  if (error instanceof EffectErrors.EventBusConfigError) return new EventBusConfigError(error)
  return error
}

/**
 * Settles a promise from an Exit: the value, the first failure as a Promise-API error, the abort's reason
 * when `signal` interrupted it, or the defect.
 */
export const settle = <A, E>(exit: Exit.Exit<A, E>, signal?: AbortSignal): A => {
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") throw toPromiseError(failure.value)
  if (signal?.aborted === true && Cause.isInterruptedOnly(exit.cause)) throw signal.reason
  throw Cause.squash(exit.cause)
}
