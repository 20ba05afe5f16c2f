/**
 * The engine's Effect metrics: signals and orders counted by their labels, and the position and P&L gauges.
 * Apart from the engine's own counters (its `EngineStats`) so that an engine whose orders are not the
 * process's (a backtest) records none of them: a live engine in the same process keeps its gauges.
 */
import { Effect } from "effect"
import { type Decimal, lastToNumber, toNumber } from "../../../domain/Decimal.js"
import * as Metrics from "../../../domain/Metrics.js"
import type { Position } from "../../../domain/Position.js"
import type { EventBus } from "../../../services/EventBus.js"
import type { PnL, Portfolio } from "../../../services/Portfolio.js"

// Labelled once per distinct label values (see Metrics.labelled): recording is a cached hook's update.
const signalsTotal = Metrics.labelled(Metrics.signalsTotal, "symbol", "direction")
const ordersTotal = Metrics.labelled(Metrics.ordersTotal, "symbol", "side", "status")
const positionGauge = Metrics.labelled(Metrics.position, "symbol")

/**
 * Exports each known symbol's signal and order counters at 0 (every direction, side and status), so that a rate
 * has a series to watch before the first signal. The engine calls it with its source's symbols when it knows them.
 */
export const registerSymbolMetrics = (symbols: ReadonlyArray<string>): void => {
  for (const symbol of symbols.map((s) => s.toUpperCase())) {
    for (const direction of ["LONG", "SHORT", "CLOSE"]) signalsTotal(symbol, direction).register()
    for (const side of ["BUY", "SELL"]) for (const status of ["created", "filled", "rejected"]) ordersTotal(symbol, side, status).register()
  }
}

/**
 * Subscribes the metrics' handlers (each named `engine-metrics`). Subscribed before the pipeline's steps, the
 * counters count what the pipeline sees even when a step fails.
 */
export const subscribeEngineMetrics = (bus: EventBus["Type"], portfolio: Portfolio["Type"]) =>
  Effect.gen(function*() {
    const name = "engine-metrics"
    yield* bus.subscribe("SignalGenerated", ({ payload }) => {
      signalsTotal(payload.symbol, payload.direction).unsafeUpdate(1, [])
      return Effect.void
    }, { name })
    for (const [type, status] of [["OrderCreated", "created"], ["OrderFilled", "filled"], ["OrderRejected", "rejected"]] as const) {
      yield* bus.subscribe(type, ({ payload }) => {
        ordersTotal(payload.symbol, payload.side, status).unsafeUpdate(1, [])
        return Effect.void
      }, { name })
    }
    // The position and P&L gauges follow every position update (fills and marks to market). They read the
    // Portfolio, not the payload: a mark (data queue) may be handled after a later fill's update (order queue).
    // realized P&L changes only at fills: converted once per change, not per mark
    const realizedNumber = lastToNumber()
    // so does a position's quantity (with one symbol; else it is converted when it differs)
    const quantityNumber = lastToNumber()
    const gauges = (symbol: string, position: Position | undefined, pnl: PnL, fallback: Decimal) => {
      positionGauge(symbol).unsafeUpdate(quantityNumber(position?.quantity ?? fallback), [])
      Metrics.pnlRealized.unsafeUpdate(realizedNumber(pnl.realized), [])
      Metrics.pnlUnrealized.unsafeUpdate(toNumber(pnl.unrealized), [])
    }
    const unsafe = portfolio.unsafe
    yield* bus.subscribe("PositionUpdated", ({ payload }) => {
      if (unsafe === undefined) {
        return Effect.zipWith(portfolio.position(payload.symbol), portfolio.pnl, (position, pnl) =>
          gauges(payload.symbol, position, pnl, payload.quantity))
      }
      gauges(payload.symbol, unsafe.position(payload.symbol), unsafe.pnl(), payload.quantity)
      return Effect.void
    }, { name })
  })
