import { BigDecimal, Cause, Clock, Effect, Layer, Option } from "effect"
import { type BusEvent, type EventPayload, type EventType, makeEvent } from "../domain/BusEvent.js"
import type { Candle } from "../domain/Candle.js"
import { decimalFromNumber } from "../domain/Decimal.js"
import * as Metrics from "../domain/Metrics.js"
import type { Order } from "../domain/Order.js"
import type { Signal } from "../domain/Signal.js"
import { Broker } from "../services/Broker.js"
import { type EngineCounters, EngineStats } from "../services/EngineStats.js"
import { EventBus } from "../services/EventBus.js"
import { OrderManager } from "../services/OrderManager.js"
import { Portfolio } from "../services/Portfolio.js"
import { Strategy } from "../services/Strategy.js"

export { type EngineCounters, EngineStats } from "../services/EngineStats.js"

/** The `source` of every event the engine publishes. */
export const source = "engine"

/** A Cause in one line: the typed error's message, the defect's, or "interrupted". */
const summarize = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  const error: unknown = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (error === undefined) return Cause.isInterruptedOnly(cause) ? "interrupted" : "failed"
  if (error instanceof Error || (typeof error === "object" && error !== null && "message" in error)) {
    const message = String((error as { message: unknown }).message)
    const tag = (error as { _tag?: unknown })._tag ?? (error instanceof Error ? error.name : undefined)
    return `${Option.isSome(failure) ? "" : "defect: "}${typeof tag === "string" ? `${tag}: ` : ""}${message}`
  }
  return `${Option.isSome(failure) ? "" : "defect: "}${String(error)}`
}

// Labelled once per distinct label values (see Metrics.labelled): recording is a cached hook's update.
const signalsTotal = Metrics.labelled(Metrics.signalsTotal, "symbol", "direction")
const ordersTotal = Metrics.labelled(Metrics.ordersTotal, "symbol", "side", "status")
const positionGauge = Metrics.labelled(Metrics.position, "symbol")

const make = Effect.gen(function*() {
  const bus = yield* EventBus
  const broker = yield* Broker
  const portfolio = yield* Portfolio
  const strategy = yield* Effect.serviceOption(Strategy)
  const orderManager = yield* Effect.serviceOption(OrderManager)

  const candles = new Map<string, number>()
  const counts = { signals: 0, orders: 0, fills: 0, rejected: 0, errors: 0 }

  const publish = <T extends EventType>(type: T, payload: EventPayload<T>) =>
    Effect.flatMap(makeEvent(type, payload, { source }), (event) => bus.publish(event as BusEvent)) // BusEvent<T> is a member of the union; TS cannot see it for a generic T

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
  yield* bus.subscribe("SignalGenerated", ({ payload }) => {
    counts.signals++
    signalsTotal(payload.symbol, payload.direction).unsafeUpdate(1, [])
    return Effect.void
  }, { name: "engine-stats" })
  yield* bus.subscribe("OrderCreated", ({ payload }) => {
    counts.orders++
    ordersTotal(payload.symbol, payload.side, "created").unsafeUpdate(1, [])
    return Effect.void
  }, { name: "engine-stats" })
  yield* bus.subscribe("OrderFilled", ({ payload }) => {
    counts.fills++
    ordersTotal(payload.symbol, payload.side, "filled").unsafeUpdate(1, [])
    return Effect.void
  }, { name: "engine-stats" })
  yield* bus.subscribe("OrderRejected", ({ payload }) => {
    counts.rejected++
    ordersTotal(payload.symbol, payload.side, "rejected").unsafeUpdate(1, [])
    return Effect.void
  }, { name: "engine-stats" })
  // The position and P&L gauges follow every position update (fills and marks to market).
  yield* bus.subscribe("PositionUpdated", ({ payload }) =>
    Effect.map(portfolio.pnl, (pnl) => {
      positionGauge(payload.symbol).unsafeUpdate(BigDecimal.unsafeToNumber(payload.quantity), [])
      Metrics.pnlRealized.unsafeUpdate(BigDecimal.unsafeToNumber(pnl.realized), [])
      Metrics.pnlUnrealized.unsafeUpdate(BigDecimal.unsafeToNumber(pnl.unrealized), [])
    }), { name: "engine-metrics" })
  yield* bus.subscribe("Error", () => (counts.errors++, Effect.void), { name: "engine-stats" })

  if (Option.isSome(strategy)) {
    const { analyze, name } = strategy.value
    yield* bus.subscribe("CandleClosed", (event) => {
      const candle: Candle = event.payload
      return Effect.suspend(() => analyze(candle)).pipe(
        Effect.matchCauseEffect({
          onFailure: (cause) =>
            report(`strategy ${name}`, `on the ${candle.symbol} candle closing at ${candle.closeTime}`, cause, "warning"),
          onSuccess: Option.match({
            onNone: () => Effect.void,
            onSome: (signal: Signal) => publish("SignalGenerated", signal)
          })
        })
      )
    }, { name: "strategy" })
  }

  yield* bus.subscribe("CandleClosed", (event) => {
    const candle: Candle = event.payload
    return Effect.suspend(() => portfolio.markToMarket(candle.symbol, decimalFromNumber(candle.close), candle.closeTime))
      .pipe(
        Effect.matchCauseEffect({
          onFailure: (cause) => report("portfolio", `marking ${candle.symbol} to ${candle.close}`, cause, "error"),
          onSuccess: (position) => position === undefined ? Effect.void : publish("PositionUpdated", position)
        })
      )
  }, { name: "mark-to-market" })

  if (Option.isSome(orderManager)) {
    const { createOrder } = orderManager.value
    yield* bus.subscribe("SignalGenerated", (event) => {
      const signal: Signal = event.payload
      return Effect.suspend(() => createOrder(signal)).pipe(
        Effect.matchCauseEffect({
          onFailure: (cause) =>
            report(
              "order-manager",
              `on the ${signal.direction} ${signal.symbol} signal of ${signal.strategy} at ${signal.timestamp}`,
              cause,
              "error"
            ),
          onSuccess: Option.match({
            onNone: () => Effect.void,
            onSome: (order: Order) => publish("OrderCreated", order)
          })
        })
      )
    }, { name: "order-manager" })
  }

  yield* bus.subscribe("OrderCreated", (event) => {
    const order: Order = event.payload
    return Effect.suspend(() => broker.submit(order)).pipe(
      Effect.matchCauseEffect({
        onSuccess: (fill) => publish("OrderFilled", fill),
        onFailure: (cause) => {
          const failure = Cause.failureOption(cause)
          if (Option.isSome(failure) && failure.value.rejected) {
            const reason = failure.value.message
            return Clock.currentTimeMillis.pipe(
              Effect.tap(() =>
                Effect.logWarning(`order ${order.clientOrderId} rejected: ${reason}`).pipe(
                  Effect.annotateLogs({ component: "broker", clientOrderId: order.clientOrderId })
                )
              ),
              Effect.flatMap((now) =>
                publish("OrderRejected", { ...order, status: "REJECTED", reason, updatedAt: now })
              )
            )
          }
          return report("broker", `executing order ${order.clientOrderId}`, cause, "error")
        }
      })
    )
  }, { name: "broker" })

  yield* bus.subscribe("OrderFilled", (event) =>
    Effect.suspend(() => portfolio.applyFill(event.payload)).pipe(
      Effect.matchCauseEffect({
        onFailure: (cause) =>
          report("portfolio", `applying the fill ${event.payload.tradeId} of ${event.payload.clientOrderId}`, cause, "error"),
        onSuccess: (position) => publish("PositionUpdated", position)
      })
    ), { name: "portfolio" })

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
 * OrderFilled (or OrderRejected) -> Portfolio -> PositionUpdated; CandleClosed also marks positions to market.
 * Strategy and OrderManager are optional (data-only and analysis-only modes). A failing step publishes an
 * `Error` event and the pipeline goes on with the next event. Provides the engine's counters.
 */
export const layer: Layer.Layer<EngineStats, never, EventBus | Broker | Portfolio> = Layer.scoped(EngineStats, make)
