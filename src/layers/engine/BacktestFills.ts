import { Effect, Layer } from "effect"
import type { Candle } from "../../domain/Candle.js"
import { decimalFromNumber } from "../../domain/Decimal.js"
import { BrokerError } from "../../domain/TradingErrors.js"
import { Broker } from "../../services/Broker.js"

/**
 * When a backtest's order fills:
 * - `next-open` (the default): an order decided on a candle's close fills at the next candle's open (with the
 *   paper broker's slippage and fee), at that candle's open time: no decision trades on a price it could not
 *   have had. An order decided on the last candle stays unfilled (rejected when the backtest ends).
 * - `close`: at once, at the close it was decided on (its reference price), at that candle's close time.
 */
export type FillModel = "next-open" | "close"

export const fillModels: ReadonlyArray<FillModel> = ["next-open", "close"]

interface Parked {
  readonly symbol: string
  /** Lets the order go: at the candle's open, or unfilled (undefined). */
  readonly release: (next: Candle | undefined) => void
}

/**
 * The broker a backtest's engine submits to: a wrapper of the paper broker that holds each order until the
 * backtest loop opens the next candle of its symbol (`openNow`), then submits it at that candle's open. `onHeld`
 * is told each time an order starts to wait.
 */
export const makeBacktestFills = (model: FillModel, onHeld: () => void = () => {}) => {
  const current = new Map<string, Candle>()
  let parked: Array<Parked> = []
  let ended = false
  let unfilled = 0
  let opened = 0
  let releasedTotal = 0

  const unfilledError = (clientOrderId: string) => {
    unfilled++
    return new BrokerError({
      clientOrderId,
      message: "decided on the last candle: the backtest ended before a next open to fill at",
      rejected: true
    })
  }

  const execution: Layer.Layer<Broker, never, Broker> = Layer.effect(
    Broker,
    Effect.map(Broker, (inner) =>
      Broker.of({
        submit: (order, options) => {
          if (model === "close") {
            return Effect.suspend(() => {
              const candle = current.get(order.symbol)
              // the fill's time is the market's (the candle's close), not the machine's
              return Effect.map(inner.submit(order, options), (fill) => candle === undefined ? fill : { ...fill, filledAt: candle.closeTime })
            })
          }
          // an async callback, not a Deferred: making a Deferred costs some 5-15 us here
          const next = Effect.async<Candle | undefined>((resume) => {
            const entry: Parked = { symbol: order.symbol, release: (candle) => resume(Effect.succeed(candle)) }
            parked.push(entry)
            onHeld()
            return Effect.sync(() => void (parked = parked.filter((p) => p !== entry)))
          })
          return Effect.suspend(() => ended ? Effect.fail(unfilledError(order.clientOrderId)) : next).pipe(
            Effect.flatMap((candle) =>
              candle === undefined
                ? Effect.fail(unfilledError(order.clientOrderId))
                : Effect.map(
                  inner.submit({ ...order, price: decimalFromNumber(candle.open) }, options),
                  (fill) => ({ ...fill, filledAt: candle.openTime })
                )
            )
          )
        }
      }))
  )

  /**
   * A candle opens: the orders of its symbol held so far fill at its open. Call before its CandleClosed is
   * handled; returns how many orders it let go (their fills follow on the order queue).
   */
  const openNow = (candle: Candle): number => {
    opened++
    current.set(candle.symbol, candle)
    if (parked.length === 0) return 0
    const released = parked.filter((p) => p.symbol === candle.symbol)
    if (released.length === 0) return 0
    parked = parked.filter((p) => p.symbol !== candle.symbol)
    releasedTotal += released.length
    for (const p of released) p.release(candle)
    return released.length
  }

  /** No candle follows: the orders still held are rejected as unfilled, and so are later ones. */
  const end = Effect.suspend(() => {
    ended = true
    const released = parked
    parked = []
    releasedTotal += released.length
    for (const p of released) p.release(undefined)
    return Effect.void
  })

  return {
    execution,
    openNow,
    end,
    /** Orders held, waiting for their next open (their OrderCreated handler is still running). */
    held: () => parked.length,
    /** Candles opened so far. */
    opened: () => opened,
    /** Orders let go so far, by `openNow` and `end`. */
    released: () => releasedTotal,
    /** Orders decided too late to fill. */
    unfilled: () => unfilled
  }
}
