import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Fiber, Option, TestClock } from "effect"
import { formatDecimal } from "../../../src/domain/Decimal.js"
import type { Fill, Order, OrderSide } from "../../../src/domain/Order.js"
import { BrokerError } from "../../../src/domain/TradingErrors.js"
import * as PaperBroker from "../../../src/layers/execution/PaperBroker.js"
import { Broker } from "../../../src/services/Broker.js"

const d = BigDecimal.unsafeFromString

const order = (clientOrderId: string, side: OrderSide = "BUY", quantity = "0.1", price = "42000.10"): Order => ({
  clientOrderId,
  symbol: "BTCUSDT",
  side,
  type: "MARKET",
  quantity: d(quantity),
  price: d(price),
  status: "NEW",
  createdAt: 7,
  updatedAt: 7
})

/** A trade id without its run tag: `paper-<tag>-2` reads `paper-2`. */
const seq = (tradeId: string) => tradeId.replace(/^paper-[0-9a-z]{10}-/, "paper-")

const view = (f: Fill) => ({
  ...f,
  tradeId: seq(f.tradeId),
  quantity: formatDecimal(f.quantity),
  price: formatDecimal(f.price),
  fee: formatDecimal(f.fee)
})

const submit = (o: Order) => Effect.flatMap(Broker, (broker) => broker.submit(o))

describe("PaperBroker", () => {
  it.effect("fills a BUY above and a SELL below the reference price, with the fee on the notional, exactly", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000)
      const buy = yield* submit(order("b-1"))
      expect(view(buy)).toEqual({
        clientOrderId: "b-1",
        tradeId: "paper-1",
        symbol: "BTCUSDT",
        side: "BUY",
        type: "MARKET",
        quantity: "0.1",
        price: "42021.10005", // 42000.10 * 1.0005
        fee: "4.202110005", // 0.1 * 42021.10005 * 0.001
        status: "FILLED",
        orderCreatedAt: 7,
        filledAt: 1_000
      })
      const sell = yield* submit(order("s-1", "SELL"))
      expect(view(sell)).toMatchObject({
        tradeId: "paper-2",
        side: "SELL",
        price: "41979.09995", // 42000.10 * 0.9995
        fee: "4.197909995"
      })
    }).pipe(Effect.provide(PaperBroker.layer({ feeBps: 10, slippageBps: 5 }))))

  it.effect("defaults to 10 bps of fee and 5 bps of slippage; takes fractional bps", () =>
    Effect.gen(function*() {
      const fill = yield* submit(order("b-1"))
      expect([formatDecimal(fill.price), formatDecimal(fill.fee)]).toEqual(["42021.10005", "4.202110005"])
    }).pipe(Effect.provide(PaperBroker.layer())))

  it.effect("takes fractional bps and zero", () =>
    Effect.gen(function*() {
      const fill = yield* submit(order("b-1", "SELL", "2", "100"))
      expect([formatDecimal(fill.price), formatDecimal(fill.fee)]).toEqual(["100", "0.05"])
    }).pipe(Effect.provide(PaperBroker.layer({ feeBps: 2.5, slippageBps: 0 }))))

  it.effect("is idempotent by clientOrderId: a resubmission returns the first fill and executes nothing", () =>
    Effect.gen(function*() {
      const first = yield* submit(order("dup"))
      yield* TestClock.adjust("1 second")
      const again = yield* submit(order("dup"))
      expect(again).toBe(first)
      const next = yield* submit(order("other"))
      expect(seq(next.tradeId)).toBe("paper-2")
      // the duplicate did not add to the position: 0.2 BTC is within the limit, 0.3 would not be
      const third = yield* Effect.flip(submit(order("third")))
      expect(third.rejected).toBe(true)
    }).pipe(Effect.provide(PaperBroker.layer({ maxPositionNotional: "10000" }))))

  it.effect("rejects an order that takes the position notional above maxPositionNotional, but never a reducing one", () =>
    Effect.gen(function*() {
      yield* submit(order("b-1"))
      const error = yield* Effect.flip(submit(order("b-2")))
      expect(error).toBeInstanceOf(BrokerError)
      expect(error).toMatchObject({ clientOrderId: "b-2", rejected: true })
      expect(error.message).toBe(
        "the BTCUSDT position notional would be 8404.22001, above maxPositionNotional 5000"
      )
      // the rejection is the outcome of that id too
      expect(yield* Effect.flip(submit(order("b-2")))).toBe(error)
      // selling 0.2 flips to a short of 0.1: smaller than the long, allowed
      const flip = yield* submit(order("s-1", "SELL", "0.2"))
      expect(flip.status).toBe("FILLED")
      // a further short of 0.1 would be 0.2 * 41979.09995 = 8395.81999
      const short = yield* Effect.flip(submit(order("s-2", "SELL")))
      expect(short.message).toContain("position notional would be 8395.81999")
      // buying back is always allowed
      expect(seq((yield* submit(order("b-3", "BUY", "0.1"))).tradeId)).toBe("paper-3")
    }).pipe(Effect.provide(PaperBroker.layer({ maxPositionNotional: "5000" }))))

  it.effect("rejects an order arriving while maxOpenOrders are executing", () =>
    Effect.gen(function*() {
      const a = yield* Effect.fork(submit(order("a", "BUY", "0.01")))
      const b = yield* Effect.fork(submit(order("b", "BUY", "0.01")))
      const aAgain = yield* Effect.fork(submit(order("a", "BUY", "0.01")))
      yield* Effect.yieldNow()
      const c = yield* Effect.flip(submit(order("c", "BUY", "0.01")))
      expect(c).toMatchObject({ clientOrderId: "c", rejected: true })
      expect(c.message).toBe("2 orders are already executing (maxOpenOrders 2)")
      expect(Option.isNone(yield* Fiber.poll(a))).toBe(true)
      yield* TestClock.adjust("250 millis")
      const [fa, fb, faAgain] = [yield* Fiber.join(a), yield* Fiber.join(b), yield* Fiber.join(aAgain)]
      expect([seq(fa.tradeId), seq(fb.tradeId)].sort()).toEqual(["paper-1", "paper-2"])
      expect([fa.filledAt, fb.filledAt]).toEqual([250, 250])
      // the concurrent duplicate waited for the first execution
      expect(faAgain).toBe(fa)
      // room again once they are done
      const late = yield* Effect.fork(submit(order("d", "BUY", "0.01")))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("250 millis")
      expect(seq((yield* Fiber.join(late)).tradeId)).toBe("paper-3")
    }).pipe(Effect.provide(PaperBroker.layer({ maxOpenOrders: 2, latency: "250 millis" }))))

  it.effect("makes trade ids unique across runs: a second broker (a new run) never repeats the first's", () =>
    Effect.gen(function*() {
      const run = Effect.provide(
        Effect.all([submit(order("a")), submit(order("b", "SELL"))]),
        PaperBroker.layer()
      )
      const [first, second] = [yield* run, yield* run]
      const ids = [...first, ...second].map((f) => f.tradeId)
      expect(new Set(ids).size).toBe(4)
      for (const id of ids) expect(id).toMatch(/^paper-[0-9a-z]{10}-[12]$/)
      expect(ids.map(seq)).toEqual(["paper-1", "paper-2", "paper-1", "paper-2"])
    }))

  it.effect("rejects what it cannot fill: a LIMIT order, a quantity of zero", () =>
    Effect.gen(function*() {
      const limit = yield* Effect.flip(submit({ ...order("l"), type: "LIMIT" }))
      expect(limit.message).toBe("the paper broker fills only MARKET orders, not LIMIT")
      const empty = yield* Effect.flip(submit(order("z", "BUY", "0")))
      expect(empty.message).toBe("quantity must be > 0, got 0")
      expect([limit.rejected, empty.rejected]).toEqual([true, true])
    }).pipe(Effect.provide(PaperBroker.layer())))

  it.effect.each([
    [{ feeBps: -1 }, "feeBps"],
    [{ slippageBps: Number.NaN }, "slippageBps"],
    [{ maxOpenOrders: 0 }, "maxOpenOrders"],
    [{ maxPositionNotional: "abc" }, "maxPositionNotional"],
    [{ maxPositionNotional: "-5" }, "maxPositionNotional"]
  ] as const)("refuses %j, naming the setting", ([options, setting]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(Broker, PaperBroker.layer(options)))
      expect(error).toBeInstanceOf(PaperBroker.BrokerConfigError)
      expect(error.setting).toBe(setting)
    }))
})
