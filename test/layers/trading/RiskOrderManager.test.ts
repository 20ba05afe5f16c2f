import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Exit, Layer, Logger, LogLevel, Option, TestClock } from "effect"
import { formatDecimal } from "../../../src/domain/Decimal.js"
import type { Order, OrderSide } from "../../../src/domain/Order.js"
import type { Signal, SignalDirection } from "../../../src/domain/Signal.js"
import { clientOrderIdPattern } from "../../../src/domain/Order.js"
import { OrderError, OrderRefused } from "../../../src/domain/TradingErrors.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import * as RiskOrderManager from "../../../src/layers/trading/RiskOrderManager.js"
import { OrderManager } from "../../../src/services/OrderManager.js"
import { Portfolio } from "../../../src/services/Portfolio.js"

const d = BigDecimal.unsafeFromString

const signal = (direction: SignalDirection, price: number, timestamp = 59_999, symbol = "BTCUSDT"): Signal => ({
  symbol,
  direction,
  price,
  strategy: "sma",
  reason: "test",
  timestamp
})

const withManager = (options?: RiskOrderManager.RiskOrderManagerOptions) =>
  Effect.provide(RiskOrderManager.layer(options).pipe(Layer.provideMerge(MemoryPortfolio.layer)))

const create = (s: Signal) => Effect.flatMap(OrderManager, (m) => m.createOrder(s))
const createSome = (s: Signal) => Effect.map(create(s), Option.getOrThrow)

/** Applies an order to the portfolio as if it filled at its reference price without a fee. */
const fillIt = (o: Order) =>
  Effect.flatMap(Portfolio, (p) =>
    p.applyFill({
      clientOrderId: o.clientOrderId,
      tradeId: `t-${o.clientOrderId}`,
      symbol: o.symbol,
      side: o.side,
      type: o.type,
      quantity: o.quantity,
      price: o.price,
      fee: d("0"),
      status: "FILLED",
      orderCreatedAt: o.createdAt,
      filledAt: o.createdAt
    }))

const sideAndQuantity = (o: Order): [OrderSide, string] => [o.side, formatDecimal(o.quantity)]

describe("RiskOrderManager", () => {
  it.effect("sizes a LONG into a MARKET BUY of quoteAmount / price, rounded down to quantityScale", () =>
    Effect.gen(function*() {
      const o = yield* createSome(signal("LONG", 42000.1))
      expect(o.clientOrderId).toMatch(/^sma-[0-9a-z]{10}-1$/)
      expect({ ...o, quantity: formatDecimal(o.quantity), price: formatDecimal(o.price) }).toEqual({
        clientOrderId: o.clientOrderId,
        symbol: "BTCUSDT",
        side: "BUY",
        type: "MARKET",
        quantity: "0.00238", // 100 / 42000.1 = 0.0023809467...
        price: "42000.1",
        status: "NEW",
        createdAt: 59_999,
        updatedAt: 59_999
      })
      // with allowShort, a SHORT on another symbol: the same sizing, the other side, the next id of this run
      const short = yield* createSome(signal("SHORT", 3, 119_999, "XRPUSDT"))
      expect(sideAndQuantity(short)).toEqual(["SELL", "33.333333"])
      expect(short.clientOrderId).toBe(o.clientOrderId.replace(/1$/, "2"))
    }).pipe(withManager({ allowShort: true })))

  it.effect("rounds down with the configured scale and quote amount, and fails when that is zero", () =>
    Effect.gen(function*() {
      expect(sideAndQuantity(yield* createSome(signal("LONG", 3, 0, "A")))).toEqual(["BUY", "83.33"])
      const error = yield* Effect.flip(create(signal("LONG", 42000, 0, "B")))
      expect(error).toBeInstanceOf(OrderRefused)
      expect(error.message).toBe("quoteAmount 250 at price 42000 rounds down to quantity 0 at 2 decimals")
      expect(error._tag === "OrderRefused" && error.order).toMatchObject({ symbol: "B", side: "BUY", status: "REJECTED" })
      // a signal without a usable price is not a refusal but an error
      const bad = yield* Effect.flip(create(signal("LONG", 0, 0, "C")))
      expect(bad).toBeInstanceOf(OrderError)
      expect(bad.message).toBe("the signal's price must be a number > 0, got 0")
    }).pipe(withManager({ quoteAmount: "250", quantityScale: 2 })))

  it.effect("flattens the position on CLOSE, and creates nothing when flat", () =>
    Effect.gen(function*() {
      expect(yield* create(signal("CLOSE", 100))).toEqual(Option.none())
      yield* fillIt(yield* createSome(signal("LONG", 100, 1)))
      expect(sideAndQuantity(yield* createSome(signal("CLOSE", 110, 2)))).toEqual(["SELL", "1"])
    }).pipe(withManager()))

  it.effect("buys a short back on CLOSE", () =>
    Effect.gen(function*() {
      yield* fillIt(yield* createSome(signal("SHORT", 80, 1)))
      expect(sideAndQuantity(yield* createSome(signal("CLOSE", 90, 2)))).toEqual(["BUY", "1.25"])
    }).pipe(withManager({ allowShort: true })))

  it.effect("reverses an opposite position: a LONG while short buys the short back and goes long", () =>
    Effect.gen(function*() {
      yield* fillIt(yield* createSome(signal("SHORT", 100, 1)))
      const reverse = yield* createSome(signal("LONG", 50, 2))
      expect(sideAndQuantity(reverse)).toEqual(["BUY", "3"]) // 1 back + 2 long
      yield* fillIt(reverse)
      const position = yield* Effect.flatMap(Portfolio, (p) => p.position("BTCUSDT"))
      expect(formatDecimal(position!.quantity)).toBe("2")
    }).pipe(withManager({ allowShort: true })))

  it.effect("adds to a position on a repeated LONG while the notional stays within maxPositionNotional", () =>
    Effect.gen(function*() {
      yield* fillIt(yield* createSome(signal("LONG", 100, 1)))
      yield* fillIt(yield* createSome(signal("LONG", 100, 2)))
      const error = yield* Effect.flip(create(signal("LONG", 100, 3)))
      expect(error.message).toBe(
        "a BUY of 1 would take the BTCUSDT position notional to 300, above maxPositionNotional 250"
      )
      // at 1000 the long of 2 is worth 2000, far above the limit: reversing it to a short of 0.1 reduces it, allowed
      expect(sideAndQuantity(yield* createSome(signal("SHORT", 1000, 4)))).toEqual(["SELL", "2.1"])
    }).pipe(withManager({ maxPositionNotional: "250", allowShort: true })))

  it.effect("counts orders created and not yet filled in the position", () =>
    Effect.gen(function*() {
      yield* createSome(signal("LONG", 100, 1))
      // the portfolio is still flat, but the first order is open: 2 * 100 > 150
      const error = yield* Effect.flip(create(signal("LONG", 100, 2)))
      expect(error.message).toContain("position notional to 200")
      // and a CLOSE flattens what the open order will hold
      expect(sideAndQuantity(yield* createSome(signal("CLOSE", 100, 3)))).toEqual(["SELL", "1"])
    }).pipe(withManager({ maxPositionNotional: "150" })))

  it.effect("takes the oldest open orders as filled when the position moves by their quantity", () =>
    Effect.gen(function*() {
      const buy = yield* createSome(signal("LONG", 100, 1))
      const reverse = yield* createSome(signal("SHORT", 100, 2))
      expect(sideAndQuantity(reverse)).toEqual(["SELL", "2"])
      yield* fillIt(buy)
      // the portfolio holds 1, the reversal is still open: the projected position is -1
      expect(sideAndQuantity(yield* createSome(signal("CLOSE", 100, 3)))).toEqual(["BUY", "1"])
    }).pipe(withManager({ allowShort: true })))

  it.effect("refuses more than maxOpenOrders open orders until fills show up or they time out", () =>
    Effect.gen(function*() {
      const first = yield* createSome(signal("LONG", 100, 1_000))
      yield* createSome(signal("LONG", 100, 2_000, "ETHUSDT"))
      const error = yield* Effect.flip(create(signal("LONG", 100, 3_000)))
      expect(error.message).toBe("2 orders are still open (maxOpenOrders 2)")
      // the BTC order filled: its position moved, so it is no longer open
      yield* fillIt(first)
      yield* createSome(signal("LONG", 100, 4_000))
      expect((yield* Effect.flip(create(signal("LONG", 100, 5_000)))).message).toContain("maxOpenOrders 2")
      // openOrderTimeout later the ETH order counts as lost
      yield* TestClock.adjust("29999 millis")
      expect((yield* Effect.flip(create(signal("LONG", 100, 6_000)))).message).toContain("maxOpenOrders 2")
      yield* TestClock.adjust("1 millis")
      yield* createSome(signal("LONG", 100, 7_000))
    }).pipe(withManager({ maxOpenOrders: 2 })))

  it.effect("is long-only by default: a SHORT sells at most the long held, and opens nothing when flat", () =>
    Effect.gen(function*() {
      const logs: Array<[string, string]> = []
      const logger = Logger.make(({ logLevel, message }) => {
        logs.push([logLevel.label, String(Array.isArray(message) ? message[0] : message)])
      })
      const quiet = <A, E, R>(e: Effect.Effect<A, E, R>) =>
        e.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.All))
      // flat: no order, no failure; said at info once per symbol, then at debug
      expect(yield* quiet(create(signal("SHORT", 100, 1)))).toEqual(Option.none())
      expect(yield* quiet(create(signal("SHORT", 100, 2)))).toEqual(Option.none())
      expect(logs.map(([level]) => level)).toEqual(["INFO", "DEBUG"])
      expect(logs[0]![1]).toBe(
        "sma's SHORT BTCUSDT signal at 1 opens no short: the engine is long-only (allowShort false); further ones are logged at debug level"
      )
      // long 1 (filled) plus 2 more created and not filled: a SHORT sells the 3 and no more (closing the long)
      yield* fillIt(yield* createSome(signal("LONG", 100, 3)))
      yield* createSome(signal("LONG", 50, 4))
      const close = yield* createSome(signal("SHORT", 200, 5))
      expect(sideAndQuantity(close)).toEqual(["SELL", "3"])
      // the projected position is flat now: another SHORT creates nothing, a CLOSE neither
      expect(yield* quiet(create(signal("SHORT", 200, 6)))).toEqual(Option.none())
      expect(yield* create(signal("CLOSE", 200, 7))).toEqual(Option.none())
    }).pipe(withManager()))

  it.effect("makes client order ids unique across runs, within Binance's 36 characters of [.A-Z:/a-z0-9_-]", () =>
    Effect.gen(function*() {
      // two runs (two managers) seeing the same signals, as two simulator runs with one seed do
      const signals = [signal("LONG", 100, 1), signal("CLOSE", 100, 2)]
      const runOnce = Effect.forEach(signals, createSome).pipe(withManager())
      const first = (yield* runOnce).map((o) => o.clientOrderId)
      const second = (yield* runOnce).map((o) => o.clientOrderId)
      expect(new Set([...first, ...second]).size).toBe(4)
      // a long strategy name with characters Binance refuses is cut and escaped
      const long = yield* createSome({ ...signal("LONG", 100, 3), strategy: "RSI mean reversion (14, 30/70)" }).pipe(
        withManager()
      )
      expect(long.clientOrderId).toMatch(/^RSI_mean_rev-[0-9a-z]{10}-1$/)
      for (const id of [...first, ...second, long.clientOrderId]) expect(id).toMatch(clientOrderIdPattern)
    }))

  it.effect.each([
    [{ quoteAmount: "0" }, "quoteAmount"],
    [{ quoteAmount: "x" }, "quoteAmount"],
    [{ maxPositionNotional: -1 }, "maxPositionNotional"],
    [{ maxOpenOrders: 0 }, "maxOpenOrders"],
    [{ quantityScale: -1 }, "quantityScale"],
    [{ quantityScale: 1.5 }, "quantityScale"]
  ] as const)("refuses %j, naming the setting", ([options, setting]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(OrderManager, RiskOrderManager.layer(options).pipe(Layer.provide(MemoryPortfolio.layer)))
      )
      expect(error).toBeInstanceOf(RiskOrderManager.OrderManagerConfigError)
      expect(error.setting).toBe(setting)
    }))

  it.effect("over a portfolio read synchronously, decides when called: a completed Effect, the same order", () =>
    Effect.gen(function*() {
      const manager = yield* OrderManager
      const decided = manager.createOrder(signal("LONG", 30_000.01))
      // the engine settles a completed Effect without a fiber step
      expect(Exit.isExit(decided)).toBe(true)
      const order = Option.getOrThrow(yield* decided)
      expect([order.side, formatDecimal(order.quantity)]).toEqual(["BUY", "0.003333"])
      // sizing rounds down in integers: 100 / 30000.01 = 0.0033333322...
      expect(formatDecimal(RiskOrderManager.sizeOf(d("100"), d("30000.01"), 6))).toBe("0.003333")
    }).pipe(withManager()))
})
