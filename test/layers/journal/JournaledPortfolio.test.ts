import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Layer, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeEventAt } from "../../../src/domain/BusEvent.js"
import { formatDecimal } from "../../../src/domain/Decimal.js"
import * as JournaledPortfolio from "../../../src/layers/journal/JournaledPortfolio.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import * as RiskOrderManager from "../../../src/layers/trading/RiskOrderManager.js"
import { Journal } from "../../../src/services/Journal.js"
import { OrderManager } from "../../../src/services/OrderManager.js"
import { Portfolio } from "../../../src/services/Portfolio.js"
import { order } from "../../support/fixtures.js"
import { created, fill } from "../../support/journal.js"

const tmp = () => join(mkdtempSync(join(tmpdir(), "trading-bus-positions-")), "journal.db")

const sold = (clientOrderId: string, tradeId: string) =>
  makeEventAt("OrderFilled", { ...fill(clientOrderId, tradeId, 9), side: "SELL", quantity: BigDecimal.unsafeFromString("0.004") }, 9)

/**
 * A journal a crashed run left: a and b filled (done), c sold (its fill pending), d created and not executed
 * (pending, no outcome): positions 0.01 + 0.01 - 0.004 = 0.016 BTCUSDT, one order open.
 */
const writeJournal = (filename: string) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const done = [created("a"), makeEventAt("OrderFilled", fill("a", "t-a"), 2), created("b"), makeEventAt("OrderFilled", fill("b", "t-b"), 3), created("c")]
    for (const e of done) {
      yield* journal.append(e, "order")
      yield* journal.markDone(e.id)
    }
    yield* journal.append(sold("c", "t-c"), "order")
    yield* journal.append(created("d"), "order")
  }).pipe(Effect.provide(SqliteJournal.layer({ filename })))

/** The engine's trading layers on a journal file: the manager is built on the restored portfolio. */
const trading = (filename: string, maxOpenOrders = 5) =>
  RiskOrderManager.layer({ maxOpenOrders }).pipe(
    Layer.provideMerge(JournaledPortfolio.layer.pipe(Layer.provide(MemoryPortfolio.layer))),
    Layer.provideMerge(SqliteJournal.layer({ filename, mustExist: true }))
  )

const quantities = Effect.map(Effect.flatMap(Portfolio, (p) => p.positions), (ps) => ps.map((p) => [p.symbol, formatDecimal(p.quantity)]))

describe("JournaledPortfolio", () => {
  it.live("rebuilds the positions from every journaled fill, done or pending, and applies none of them twice", () =>
    Effect.gen(function*() {
      const filename = tmp()
      yield* writeJournal(filename)
      yield* Effect.gen(function*() {
        expect(yield* quantities).toEqual([["BTCUSDT", "0.016"]])
        // the pending fill, published again by recovery, and a fill returned again: already in the position
        const portfolio = yield* Portfolio
        yield* portfolio.applyFill(sold("c", "t-c").payload)
        yield* portfolio.applyFill(fill("a", "t-a"))
        expect(yield* quantities).toEqual([["BTCUSDT", "0.016"]])
        // a new fill moves it
        yield* portfolio.applyFill(fill("d", "t-d"))
        expect(yield* quantities).toEqual([["BTCUSDT", "0.026"]])
      }).pipe(Effect.provide(trading(filename)))
    }))

  it.live("its synchronous applyFill (the engine's portfolio step) applies no journaled fill twice either", () =>
    Effect.gen(function*() {
      const filename = tmp()
      yield* writeJournal(filename)
      yield* Effect.gen(function*() {
        const applyNow = (yield* Portfolio).unsafe?.applyFill
        expect(applyNow).toBeDefined()
        // already in the position: its current state comes back, unchanged
        expect(formatDecimal(applyNow!(sold("c", "t-c").payload).quantity)).toBe("0.016")
        expect(formatDecimal(applyNow!(fill("b", "t-b")).quantity)).toBe("0.016")
        expect(yield* quantities).toEqual([["BTCUSDT", "0.016"]])
        // a new fill moves it, once
        expect(formatDecimal(applyNow!(fill("d", "t-d")).quantity)).toBe("0.026")
        expect(formatDecimal(applyNow!(fill("d", "t-d")).quantity)).toBe("0.026")
        expect(yield* quantities).toEqual([["BTCUSDT", "0.026"]])
      }).pipe(Effect.provide(trading(filename)))
    }))

  it.live("the order manager counts the journal's open orders from the start, once", () =>
    Effect.gen(function*() {
      const filename = tmp()
      yield* writeJournal(filename)
      const signal = { symbol: "BTCUSDT", direction: "LONG" as const, price: 1_000, strategy: "sma", reason: "test", timestamp: 1 }
      const error = yield* Effect.flip(Effect.flatMap(OrderManager, (m) => m.createOrder(signal)).pipe(
        Effect.provide(trading(filename, 1))
      ))
      expect(error._tag).toBe("OrderRefused")
      expect(error._tag === "OrderRefused" && error.order.reason).toContain("1 orders are still open (maxOpenOrders 1)")
      // with room for two, d counts once: one more order is created
      const created = yield* Effect.flatMap(OrderManager, (m) => m.createOrder(signal)).pipe(Effect.provide(trading(filename, 2)))
      expect(Option.isSome(created)).toBe(true)
    }))

  it.effect("is the wrapped portfolio without a journal", () =>
    Effect.gen(function*() {
      const portfolio = yield* Portfolio
      yield* portfolio.applyFill(fill("a", "t-a"))
      yield* portfolio.applyFill(fill("a", "t-a"))
      expect(yield* quantities).toEqual([["BTCUSDT", "0.02"]])
      expect(order("a").symbol).toBe("BTCUSDT")
    }).pipe(Effect.provide(JournaledPortfolio.layer.pipe(Layer.provide(MemoryPortfolio.layer)))))
})
