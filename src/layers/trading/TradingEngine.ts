import { Cause, Effect, Exit, Layer, Option } from "effect"
import {
  type BusEvent,
  type EventPayload,
  type EventType,
  makeEvent,
  makeEventAt,
  type QueueName
} from "../../domain/BusEvent.js"
import type { Candle } from "../../domain/Candle.js"
import { decimalFromNumber, formatDecimal } from "../../domain/Decimal.js"
import type { Order } from "../../domain/Order.js"
import type { Position } from "../../domain/Position.js"
import type { Signal } from "../../domain/Signal.js"
import { Broker } from "../../services/Broker.js"
import { type EngineCounters, EngineStats } from "../../services/EngineStats.js"
import { EventBus } from "../../services/EventBus.js"
import { OrderManager } from "../../services/OrderManager.js"
import { Portfolio } from "../../services/Portfolio.js"
import { Journal } from "../../services/Journal.js"
import { Strategy } from "../../services/Strategy.js"
import { isCompleted } from "../bus/internal/completed.js"
import { summarize } from "../bus/internal/summarize.js"
import { makeRetrying, type RetryOptions } from "../journal/RetryingHandlers.js"
import { subscribeEngineMetrics } from "./internal/EngineMetrics.js"
import { subscribeExecution } from "./internal/OrderExecution.js"

export { type EngineCounters, EngineStats } from "../../services/EngineStats.js"
export { registerSymbolMetrics } from "./internal/EngineMetrics.js"

/** The `source` of every event the engine publishes. */
export const source = "engine"

export interface TradingEngineOptions {
  /** How the signal and order handlers retry a fault (not a business refusal) before dead-lettering the event. */
  readonly retry?: RetryOptions
  /**
   * Record the engine's Effect metrics: signals and orders counted by symbol, side and status, the position and
   * P&L gauges. Default true. A backtest records none: its orders are not the process's, and a live engine in
   * the same process keeps its gauges (its own counts are in its report).
   */
  readonly metrics?: boolean
}

const make = (options: TradingEngineOptions) => Effect.gen(function*() {
  const bus = yield* EventBus
  const journal = yield* Effect.serviceOption(Journal)
  const retrying = yield* makeRetrying
  const scope = yield* Effect.scope
  const retry = options.retry ?? {}
  const broker = yield* Broker
  const portfolio = yield* Portfolio
  const strategy = yield* Effect.serviceOption(Strategy)
  const orderManager = yield* Effect.serviceOption(OrderManager)
  const clock = yield* Effect.clock

  const candles = new Map<string, number>()
  const counts = { signals: 0, orders: 0, fills: 0, rejected: 0, errors: 0 }

  const publish = <T extends EventType>(type: T, payload: EventPayload<T>, queue?: QueueName) =>
    Effect.flatMap(makeEvent(type, payload, { source }), (event) => bus.publish(event as BusEvent, queue)) // BusEvent<T> is a member of the union; TS cannot see it for a generic T

  /**
   * `publish` done at once where the bus can: the handler gets a completed Effect back, which the processor
   * settles inline instead of running it in a fiber step (once or more per candle).
   */
  const publishNow = <T extends EventType>(type: T, payload: EventPayload<T>, queue?: QueueName) => {
    const event = makeEventAt(type, payload, clock.unsafeCurrentTimeMillis(), { source }) as BusEvent
    if (bus.publishNow === undefined) return bus.publish(event, queue)
    return bus.publishNow(event, queue) ?? Effect.void
  }

  /** Logs a failure of a component with its context and publishes it as an `Error` event; the pipeline goes on. */
  const report = (component: string, context: string, cause: Cause.Cause<unknown>, level: "warning" | "error") => {
    const message = `${component} failed ${context}: ${summarize(cause)}`
    const log = level === "error" ? Effect.logError(message, cause) : Effect.logWarning(message, cause)
    return log.pipe(
      Effect.annotateLogs({ component }),
      Effect.zipRight(publish("Error", { component, message, cause: Cause.pretty(cause) }))
    )
  }

  // The counters run first on each type, so they count what the pipeline sees even when a step fails.
  yield* bus.subscribe("CandleClosed", (event) => {
    const symbol = event.payload.symbol
    candles.set(symbol, (candles.get(symbol) ?? 0) + 1)
    return Effect.void
  }, { name: "engine-stats" })
  const count = <T extends "SignalGenerated" | "OrderCreated" | "OrderFilled" | "OrderRejected">(
    type: T,
    counter: "signals" | "orders" | "fills" | "rejected"
  ) => bus.subscribe(type, () => (counts[counter]++, Effect.void), { name: "engine-stats" })
  yield* count("SignalGenerated", "signals")
  yield* count("OrderCreated", "orders")
  yield* count("OrderFilled", "fills")
  yield* count("OrderRejected", "rejected")
  if (options.metrics !== false) yield* subscribeEngineMetrics(bus, portfolio)
  const unsafe = portfolio.unsafe
  yield* bus.subscribe("Error", () => (counts.errors++, Effect.void), { name: "engine-stats" })

  if (Option.isSome(strategy)) {
    const { analyze, name } = strategy.value
    const decided = (candle: Candle) => ({
      onFailure: (cause: Cause.Cause<unknown>) =>
        report(`strategy ${name}`, `on the ${candle.symbol} candle closing at ${candle.closeTime}`, cause, "warning"),
      onSuccess: Option.match({
        onNone: () => Effect.void,
        onSome: (signal: Signal) => publish("SignalGenerated", signal)
      })
    })
    const contextOf = (details: Position | undefined) =>
      details === undefined ? Strategy.flat : { position: details.quantity, details }
    const signalled = (candle: Candle, decision: Exit.Exit<Option.Option<Signal>, unknown>) =>
      Exit.isFailure(decision)
        ? decided(candle).onFailure(decision.cause)
        : Option.isNone(decision.value)
        ? Effect.void
        : publishNow("SignalGenerated", decision.value.value)
    yield* bus.subscribe("CandleClosed", (event) => {
      const candle: Candle = event.payload
      // a portfolio read synchronously spares a fiber step per candle
      if (unsafe !== undefined) {
        let decision: Effect.Effect<Option.Option<Signal>, unknown>
        try {
          decision = analyze(candle, contextOf(unsafe.position(candle.symbol)))
        } catch (defect) {
          return decided(candle).onFailure(Cause.die(defect))
        }
        // a strategy that decided when called (a completed Effect) is settled here, without a fiber step
        return isCompleted(decision) ? signalled(candle, decision) : Effect.matchCauseEffect(decision, decided(candle))
      }
      return portfolio.position(candle.symbol).pipe(
        Effect.flatMap((details) => analyze(candle, contextOf(details))),
        Effect.matchCauseEffect(decided(candle))
      )
    }, { name: "strategy" })
  }

  // a mark is market data, not an order event: it goes on the data queue, whose sliding offer never
  // waits; on the order queue, a slow broker's backpressure would stall the data handlers (and drop candles)
  const publishMark = (position: Position | undefined) =>
    position === undefined
      ? Effect.void
      : publishNow("PositionUpdated", position, "data")
  const markFailed = (candle: Candle, cause: Cause.Cause<unknown>) =>
    report("portfolio", `marking ${candle.symbol} to ${candle.close}`, cause, "error")
  yield* bus.subscribe("CandleClosed", (event) => {
    const candle: Candle = event.payload
    if (unsafe !== undefined) {
      let position: Position | undefined
      try {
        position = unsafe.markToMarket(candle.symbol, decimalFromNumber(candle.close), candle.closeTime)
      } catch (defect) {
        return markFailed(candle, Cause.die(defect))
      }
      return publishMark(position)
    }
    return Effect.suspend(() => portfolio.markToMarket(candle.symbol, decimalFromNumber(candle.close), candle.closeTime))
      .pipe(Effect.matchCauseEffect({ onFailure: (cause) => markFailed(candle, cause), onSuccess: publishMark }))
  }, { name: "mark-to-market" })

  /**
   * A risk refusal is a business outcome: one info line, and `OrderRejected` with its reason (not an error). It
   * goes on the signal queue, the order manager's own: a refusal comes when orders back up (maxOpenOrders), and
   * waiting on the order queue's backpressure for it would stall the signals. The order never existed, so it is
   * not journaled as one.
   */
  const refused = (order: Order) =>
    Effect.logInfo(`order ${order.clientOrderId} refused: ${order.side} ${formatDecimal(order.quantity)} ${order.symbol}: ${order.reason}`)
      .pipe(
        Effect.annotateLogs({ component: "order-manager", clientOrderId: order.clientOrderId }),
        Effect.zipRight(publish("OrderRejected", order, "signal"))
      )

  if (Option.isSome(orderManager)) {
    const { createOrder } = orderManager.value
    const created = (order: Option.Option<Order>) =>
      Option.isNone(order) ? Effect.void : publishNow("OrderCreated", order.value)
    yield* bus.subscribe("SignalGenerated", retrying((event) => {
      const signal: Signal = event.payload
      let decision: ReturnType<typeof createOrder>
      try {
        decision = createOrder(signal)
      } catch (defect) {
        return Effect.die(defect)
      }
      // an order manager that decided when called: its order is published without a fiber step
      if (isCompleted(decision) && decision._tag === "Success") return created(decision.value)
      return decision.pipe(
        Effect.matchCauseEffect({
          // a refusal (sizing, a risk check) is reported at once; a defect fails the handler, which retries
          onFailure: (cause): Effect.Effect<void, unknown> =>
            Option.match(Cause.failureOption(cause), {
              onNone: () => Effect.failCause(cause),
              onSome: (failure) =>
                failure._tag === "OrderRefused"
                  ? refused(failure.order)
                  : report(
                    "order-manager",
                    `on the ${signal.direction} ${signal.symbol} signal of ${signal.strategy} at ${signal.timestamp}`,
                    cause,
                    "error"
                  )
            }),
          onSuccess: created
        })
      )
    }, { name: "order-manager", queue: "signal", ...retry }), { name: "order-manager" })
  }

  yield* subscribeExecution({ bus, broker, journal, scope, publish, publishNow, retrying, retry })

  // a failing applyFill is retried, then dead-lettered with an Error event (by `retrying`)
  const applyNow = unsafe?.applyFill
  yield* bus.subscribe("OrderFilled", retrying((event) => {
    if (applyNow !== undefined) {
      // applied when called: the processor settles the step without a fiber step
      let position: Position
      try {
        position = applyNow(event.payload)
      } catch (defect) {
        return Effect.die(defect)
      }
      return publishNow("PositionUpdated", position)
    }
    return Effect.flatMap(Effect.suspend(() => portfolio.applyFill(event.payload)), (position) =>
      publish("PositionUpdated", position))
  }, { name: "portfolio", queue: "order", ...retry }), { name: "portfolio" })

  const mode = Option.isNone(strategy)
    ? "data-only (no Strategy: candles mark positions, no signals are generated)"
    : Option.isNone(orderManager)
    ? `analysis-only (strategy ${strategy.value.name}, no OrderManager: signals are not traded)`
    : `trading (strategy ${strategy.value.name})`
  yield* Effect.logInfo(`trading engine started: ${mode}`)

  return EngineStats.of({
    snapshot: Effect.sync((): EngineCounters => ({ candles: Object.fromEntries(candles), ...counts }))
  })
})

/**
 * The trading pipeline on the bus:
 * CandleClosed -> Strategy -> SignalGenerated -> OrderManager -> OrderCreated -> Broker ->
 * OrderFilled (or OrderRejected) -> Portfolio -> PositionUpdated; CandleClosed also marks positions to market
 * (a `PositionUpdated` on the data queue). A risk refusal (`OrderRefused`) is an `OrderRejected` with its
 * reason, logged on one info line and counted in `rejected`. Strategy and OrderManager are optional (data-only
 * and analysis-only modes). A failing step publishes an `Error` event and the pipeline goes on with the next
 * event. Provides the engine's counters.
 */
export const layerWith = (options: TradingEngineOptions = {}): Layer.Layer<EngineStats, never, EventBus | Broker | Portfolio> =>
  Layer.scoped(EngineStats, make(options))

/**
 * `layerWith()`: the default retries. The signal and order handlers (order manager, broker, portfolio) run
 * under `RetryingHandlers.makeRetrying`: a fault is retried (exponential from 100 ms, jittered, 5 attempts),
 * then the event goes to the `DeadLetters` (when in the context) with an `Error` event; business outcomes
 * (an order manager's OrderRefused or OrderError, a broker's rejection) are not retried. An order the circuit breaker holds
 * back (`CircuitOpenError`) goes back in the order queue instead of failing.
 */
export const layer: Layer.Layer<EngineStats, never, EventBus | Broker | Portfolio> = layerWith()
