import { NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Cause, Context, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, Redacted, TestClock } from "effect"
import type { Order } from "../../../src/domain/Order.js"
import { BrokerError } from "../../../src/domain/TradingErrors.js"
import { layer as binanceBroker } from "../../../src/layers/execution/BinanceBroker.js"
import { Broker, type OrderUpdate } from "../../../src/services/Broker.js"
import { exchangeOrder, hmac, hmacKey, startExchange } from "../../support/simulatorTrading.js"

/** A real-time pause: the sockets need real time while the TestClock stands still. */
const realPause = (ms: number) =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), ms)
    return Effect.sync(() => clearTimeout(timer))
  })

/** Runs `effect` to its end, moving the TestClock 20 ms per 2 ms of real time, so backoffs pass quickly. */
const drive = <A, E>(effect: Effect.Effect<A, E>, until?: () => Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    while (Option.isNone(yield* Fiber.poll(fiber))) {
      if (until !== undefined && (yield* until())) return fiber
      yield* realPause(2)
      yield* TestClock.adjust("20 millis")
    }
    return fiber
  })

/** The simulator and a broker on it, both on the test's clock. */
const setup = Effect.gen(function*() {
  // a realistic epoch: a clock skewed backwards from 0 would sign negative timestamps
  yield* TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))
  const exchange = yield* startExchange()
  const signer = yield* hmac
  const broker = yield* Layer.build(
    binanceBroker({
      restUrl: exchange.restUrl,
      apiKey: Redacted.make(hmacKey.apiKey),
      signer,
      notFoundGrace: "3 seconds"
    }).pipe(Layer.provide([NodeHttpClient.layerUndici, NodeSocket.layerWebSocketConstructor]))
  ).pipe(Effect.map(Context.get(Broker)))
  /** Every client order id the exchange holds, with how many orders carry it. */
  const idCounts = Effect.map(exchange.control.orders, (orders) => {
    const counts: Record<string, number> = {}
    for (const o of orders) counts[o.clientOrderId] = (counts[o.clientOrderId] ?? 0) + 1
    return counts
  })
  return { exchange, broker, idCounts }
}).pipe(Logger.withMinimumLogLevel(LogLevel.None))

const submit = (broker: Context.Tag.Service<Broker>, o: Order) =>
  Effect.flatMap(drive(broker.submit(o)), Fiber.await)

const fillOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isFailure(exit)) throw new Error(`expected a fill, got ${String(exit.cause)}`)
  return exit.value
}

describe("BinanceBroker (against the simulated exchange)", () => {
  it.scoped("places a MARKET order once, rounded down to the step, with its fill and fee in the quote asset", () =>
    Effect.gen(function*() {
      const { broker, idCounts } = yield* setup
      const o = exchangeOrder("bb-1", { quantity: BigDecimal.unsafeFromString("0.0012345") })
      const fill = fillOf(yield* submit(broker, o))
      expect(fill).toMatchObject({ clientOrderId: "bb-1", status: "FILLED", symbol: "BTCUSDT", side: "BUY" })
      expect(BigDecimal.format(fill.quantity)).toBe("0.00123")
      expect(BigDecimal.format(fill.price)).toBe("42000")
      // 0.00000123 BTC of commission at 42000
      expect(BigDecimal.format(fill.fee)).toBe("0.05166")
      const again = fillOf(yield* submit(broker, o))
      expect(again).toEqual(fill)
      expect(yield* idCounts).toEqual({ "bb-1": 1 })
    }))

  it.scoped("refuses before sending what the filters would refuse, naming the filter", () =>
    Effect.gen(function*() {
      const { broker, idCounts } = yield* setup
      const refusal = (o: Order) =>
        Effect.map(submit(broker, o), (exit) => {
          if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error("expected a refusal")
          expect(exit.cause.error).toBeInstanceOf(BrokerError)
          expect(exit.cause.error.rejected).toBe(true)
          return exit.cause.error.message
        })
      expect(yield* refusal(exchangeOrder("f-1", { quantity: BigDecimal.unsafeFromString("0.000009") }))).toContain(
        "Filter failure: LOT_SIZE"
      )
      expect(yield* refusal(exchangeOrder("f-2", { quantity: BigDecimal.unsafeFromString("0.0001") }))).toMatch(
        /^Filter failure: NOTIONAL: notional 4\.2 is below NOTIONAL minNotional 5/
      )
      expect(yield* refusal(exchangeOrder("f-3", { quantity: BigDecimal.unsafeFromString("1000") }))).toContain("MARKET_LOT_SIZE")
      expect(yield* refusal(exchangeOrder("f-4", { type: "LIMIT", price: BigDecimal.unsafeFromString("0.001") }))).toContain(
        "Filter failure: PRICE_FILTER"
      )
      expect(yield* refusal(exchangeOrder("f-5", { symbol: "XRPUSDT" }))).toContain("not a symbol")
      // the exchange's own refusal: more than the balance
      expect(yield* refusal(exchangeOrder("f-6", { quantity: BigDecimal.unsafeFromString("5") }))).toContain("-2010")
      expect(yield* idCounts).toEqual({})
    }))

  it.scoped("an accepted order whose answer was dropped is found by its client id, not placed again", () =>
    Effect.gen(function*() {
      const { broker, exchange, idCounts } = yield* setup
      yield* exchange.control.dropOrderResponses(1)
      const fill = fillOf(yield* submit(broker, exchangeOrder("drop-1")))
      expect(fill.status).toBe("FILLED")
      expect(BigDecimal.format(fill.quantity)).toBe("0.001")
      expect(yield* idCounts).toEqual({ "drop-1": 1 })
    }))

  it.scoped("a 5XX after accepting: execution status unknown, found, not placed again", () =>
    Effect.gen(function*() {
      const { broker, exchange, idCounts } = yield* setup
      yield* exchange.control.failAfterAccepting(2, 503)
      fillOf(yield* submit(broker, exchangeOrder("5xx-1")))
      fillOf(yield* submit(broker, exchangeOrder("5xx-2")))
      expect(yield* idCounts).toEqual({ "5xx-1": 1, "5xx-2": 1 })
    }))

  it.scoped("a request lost before the exchange saw it is placed again only after -2013 for the grace", () =>
    Effect.gen(function*() {
      const { broker, exchange, idCounts } = yield* setup
      yield* exchange.control.dropOrderRequests(1)
      const start = yield* TestClock.currentTimeMillis
      const fill = fillOf(yield* submit(broker, exchangeOrder("lost-1")))
      expect(fill.status).toBe("FILLED")
      expect((yield* TestClock.currentTimeMillis) - start).toBeGreaterThanOrEqual(3_000)
      expect(yield* idCounts).toEqual({ "lost-1": 1 })
    }))

  it.scoped("-1021 after the server's clock moved: resynced once, then placed", () =>
    Effect.gen(function*() {
      const { broker, exchange, idCounts } = yield* setup
      yield* exchange.control.skewClock(30_000)
      fillOf(yield* submit(broker, exchangeOrder("skew-1")))
      yield* exchange.control.skewClock(-30_000)
      fillOf(yield* submit(broker, exchangeOrder("skew-2")))
      expect(yield* idCounts).toEqual({ "skew-1": 1, "skew-2": 1 })
    }))

  it.scoped("429 and 418: waits Retry-After, then sends; the order is never dropped", () =>
    Effect.gen(function*() {
      const { broker, exchange, idCounts } = yield* setup
      yield* exchange.control.rateLimit({ count: 2, retryAfterSeconds: 3 })
      const start = yield* TestClock.currentTimeMillis
      fillOf(yield* submit(broker, exchangeOrder("rl-1")))
      expect((yield* TestClock.currentTimeMillis) - start).toBeGreaterThanOrEqual(6_000)
      yield* exchange.control.rateLimit({ count: 1, retryAfterSeconds: 2, status: 418 })
      fillOf(yield* submit(broker, exchangeOrder("rl-2")))
      expect(yield* idCounts).toEqual({ "rl-1": 1, "rl-2": 1 })
    }))

  it.scoped("a MARKET order filled in parts: each part reported once, the last returned, and they add up", () =>
    Effect.gen(function*() {
      const { broker, exchange, idCounts } = yield* setup
      yield* exchange.control.fillMarketInParts(2)
      const updates: Array<OrderUpdate> = []
      const onUpdate = (update: OrderUpdate) => Effect.sync(() => void updates.push(update))
      const partly = Effect.map(exchange.control.orders, (orders) => orders.some((o) => o.status === "PARTIALLY_FILLED"))
      const fiber = yield* drive(
        broker.submit(exchangeOrder("parts-1", { quantity: BigDecimal.unsafeFromString("0.002") }), { onUpdate }),
        () => partly
      )
      yield* exchange.control.setPrice("BTCUSDT", "43000.00")
      const last = fillOf(yield* Effect.flatMap(drive(Fiber.join(fiber)), Fiber.await))
      expect(updates.map((u) => u._tag)).toEqual(["Placed", "PartlyFilled"])
      const first = (updates[1] as Extract<OrderUpdate, { _tag: "PartlyFilled" }>).fill
      expect(first.status).toBe("PARTIALLY_FILLED")
      expect(BigDecimal.format(first.quantity)).toBe("0.001")
      expect(BigDecimal.format(first.price)).toBe("42000")
      // 0.000001 BTC charged on the part, worth 0.042 USDT at its price
      expect(BigDecimal.format(first.fee)).toBe("0.042")
      expect(first.commissionAsset).toBe("BTC")
      expect(last.status).toBe("FILLED")
      expect(BigDecimal.format(last.quantity)).toBe("0.001")
      expect(BigDecimal.format(last.price)).toBe("43000")
      expect(BigDecimal.format(last.cumulativeQuantity!)).toBe("0.002")
      expect(BigDecimal.format(last.cumulativeQuote!)).toBe("85")
      // the part only the query saw: 0.1% of its 43 USDT
      expect(BigDecimal.format(last.fee)).toBe("0.043")
      expect(yield* idCounts).toEqual({ "parts-1": 1 })
    }))

  it.scoped("a resting LIMIT order cancelled by origClientOrderId: its submit ends cancelled; an unknown one cannot be", () =>
    Effect.gen(function*() {
      const { broker, exchange, idCounts } = yield* setup
      const resting = exchangeOrder("limit-1", { type: "LIMIT", price: BigDecimal.unsafeFromString("30000"), quantity: BigDecimal.unsafeFromString("0.001") })
      const placed = Effect.map(exchange.control.orders, (orders) => orders.some((o) => o.clientOrderId === "limit-1"))
      const fiber = yield* drive(broker.submit(resting), () => placed)
      yield* broker.cancel!(resting)
      const exit = yield* Effect.flatMap(drive(Fiber.join(fiber)), Fiber.await)
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      expect(error).toBeInstanceOf(BrokerError)
      expect([error?.rejected, error?.ended]).toEqual([true, "CANCELLED"])
      expect(error?.message).toContain("CANCELED on the exchange after 0 of 0.001 filled")
      expect(yield* idCounts).toEqual({ "limit-1": 1 })
      const unknown = yield* Effect.flip(broker.cancel!({ clientOrderId: "never-sent", symbol: "BTCUSDT" }))
      expect(unknown.message).toContain("-2011")
    }))
})
