/**
 * `trading-bus/promise`: the bus and the engine for applications that do not use Effect. Promises instead of
 * Effects, `Error` subclasses (with the Effect errors' `_tag` and fields) instead of typed failures, events in
 * their wire form (money as exact decimal strings) instead of Schema types.
 */
export {
  createTradingBus,
  type EventInput,
  type EventInputOf,
  type PlainEvent,
  type PlainHandler,
  type PlainPayload,
  type PublishOptions,
  type TradingBus,
  type TradingBusOptions
} from "./bus.js"
export { type PlainDecision, type PlainStrategy, runEngine, type RunEngineOptions, type RunEngineStrategy } from "./engine.js"
export { BusClosedError, EventBusConfigError, InvalidEventError, QueueFullError } from "./errors.js"
export type { BusStats, QueueStats } from "../services/EventBus.js"
export type { RunSummary } from "../layers/engine/RunSummary.js"
export type { EventType, QueueName } from "../domain/BusEvent.js"
