import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect } from "effect"
import { formatDecimal } from "../../../src/domain/Decimal.js"
import type { Fill, OrderSide } from "../../../src/domain/Order.js"
import type { Position } from "../../../src/domain/Position.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import { Portfolio } from "../../../src/services/Portfolio.js"

const d = BigDecimal.unsafeFromString
let trade = 0
const fill = (side: OrderSide, quantity: string, price: string, fee = "0", symbol = "BTCUSDT", at = 0): Fill => ({
  clientOrderId: `o-${++trade}`,
  tradeId: `t-${trade}`,
  symbol,
  side,
  type: "MARKET",
  quantity: d(quantity),
  price: d(price),
  fee: d(fee),
  status: "FILLED",
  orderCreatedAt: at,
  filledAt: at
})

/** A position's decimals as strings, to compare exactly. */
const view = (p: Position | undefined) =>
  p === undefined ? undefined : {
    quantity: formatDecimal(p.quantity),
    averageEntryPrice: formatDecimal(p.averageEntryPrice),
    markPrice: formatDecimal(p.markPrice),
    realizedPnl: formatDecimal(p.realizedPnl),
    unrealizedPnl: formatDecimal(p.unrealizedPnl)
  }

const applyAll = (fills: ReadonlyArray<Fill>) =>
  Effect.gen(function*() {
    const portfolio = yield* Portfolio
    let last: Position | undefined
    for (const f of fills) last = yield* portfolio.applyFill(f)
    return last
  })

describe("MemoryPortfolio", () => {
  it.effect("averages the entry price of fills that add to a position", () =>
    Effect.gen(function*() {
      const p = yield* applyAll([fill("BUY", "1", "100"), fill("BUY", "3", "110")])
      expect(view(p)).toEqual({
        quantity: "4",
        averageEntryPrice: "107.5",
        markPrice: "100", // the first fill's price, until the symbol is marked
        realizedPnl: "0",
        unrealizedPnl: "-30"
      })
    }).pipe(Effect.provide(MemoryPortfolio.layer)))

  it.effect("keeps the average on a partial close and realizes (exit - entry) * qty minus fees", () =>
    Effect.gen(function*() {
      const portfolio = yield* Portfolio
      yield* applyAll([fill("BUY", "1", "100", "0.1"), fill("BUY", "1", "110", "0.11")])
      const p = yield* portfolio.applyFill(fill("SELL", "0.5", "115", "0.0575"))
      expect(view(p)).toMatchObject({
        quantity: "1.5",
        averageEntryPrice: "105",
        realizedPnl: "4.7325" // 0.5 * (115 - 105) - 0.1 - 0.11 - 0.0575
      })
      const marked = yield* portfolio.markToMarket("BTCUSDT", d("120.5"), 1)
      expect(view(marked)).toEqual({
        quantity: "1.5",
        averageEntryPrice: "105",
        markPrice: "120.5",
        realizedPnl: "4.7325",
        unrealizedPnl: "23.25" // 1.5 * (120.5 - 105)
      })
      expect(marked?.updatedAt).toBe(1)
    }).pipe(Effect.provide(MemoryPortfolio.layer)))

  it.effect("flips through zero: realizes the whole position and opens the rest at the fill's price", () =>
    Effect.gen(function*() {
      const portfolio = yield* Portfolio
      yield* applyAll([fill("BUY", "1.5", "105")])
      const flipped = yield* portfolio.applyFill(fill("SELL", "2", "120", "0.24"))
      expect(view(flipped)).toMatchObject({
        quantity: "-0.5",
        averageEntryPrice: "120",
        realizedPnl: "22.26" // 1.5 * (120 - 105) - 0.24
      })
      // a short gains when the price falls
      const covered = yield* portfolio.applyFill(fill("BUY", "0.2", "110"))
      expect(view(covered)).toMatchObject({ quantity: "-0.3", averageEntryPrice: "120", realizedPnl: "24.26" })
      expect(view(yield* portfolio.markToMarket("BTCUSDT", d("100"), 2))).toMatchObject({ unrealizedPnl: "6" })
      const closed = yield* portfolio.applyFill(fill("BUY", "0.3", "130"))
      expect(view(closed)).toEqual({
        quantity: "0",
        averageEntryPrice: "0",
        markPrice: "100",
        realizedPnl: "21.26", // 24.26 + 0.3 * (120 - 130)
        unrealizedPnl: "0"
      })
      // a flat symbol keeps its realized P&L but is no position to mark
      expect(yield* portfolio.markToMarket("BTCUSDT", d("90"), 3)).toBeUndefined()
      expect((yield* portfolio.positions).map(view)).toEqual([view(closed)].map((v) => ({ ...v, markPrice: "90" })))
    }).pipe(Effect.provide(MemoryPortfolio.layer)))

  it.effect("averages a short's entry and keeps it while the short is reduced", () =>
    Effect.gen(function*() {
      const p = yield* applyAll([fill("SELL", "1", "200"), fill("SELL", "1", "190"), fill("BUY", "0.5", "180")])
      expect(view(p)).toMatchObject({ quantity: "-1.5", averageEntryPrice: "195", realizedPnl: "7.5" })
    }).pipe(Effect.provide(MemoryPortfolio.layer)))

  it.effect("rounds a non-terminating average, yet realized + unrealized stays exactly the cash flows", () =>
    Effect.gen(function*() {
      const portfolio = yield* Portfolio
      const fills = [
        fill("BUY", "1", "100", "0.01"),
        fill("BUY", "2", "101", "0.02"),
        fill("SELL", "1", "102", "0.03"),
        fill("SELL", "0.7", "99.5", "0.04")
      ]
      yield* applyAll(fills)
      yield* portfolio.markToMarket("BTCUSDT", d("103.25"), 1)
      const p = (yield* portfolio.position("BTCUSDT"))!
      expect(formatDecimal(p.averageEntryPrice)).toBe("100.666666666666667")
      expect(formatDecimal(p.quantity)).toBe("1.3")
      // independently: sells - buys - fees + open quantity * mark
      const cash = fills.reduce(
        (sum, f) =>
          BigDecimal.subtract(
            f.side === "SELL"
              ? BigDecimal.sum(sum, BigDecimal.multiply(f.quantity, f.price))
              : BigDecimal.subtract(sum, BigDecimal.multiply(f.quantity, f.price)),
            f.fee
          ),
        BigDecimal.fromBigInt(0n)
      )
      const expected = BigDecimal.sum(cash, BigDecimal.multiply(p.quantity, d("103.25")))
      const pnl = yield* portfolio.pnl
      expect(formatDecimal(BigDecimal.sum(pnl.realized, pnl.unrealized))).toBe(formatDecimal(expected))
      expect(formatDecimal(expected)).toBe("3.775") // -100 - 202 + 102 + 69.65 - 0.1 + 1.3 * 103.25
    }).pipe(Effect.provide(MemoryPortfolio.layer)))

  it.effect("keeps symbols apart and totals their P&L", () =>
    Effect.gen(function*() {
      const portfolio = yield* Portfolio
      // a mark before any fill is kept and used once the position opens
      expect(yield* portfolio.markToMarket("ETHUSDT", d("2100"), 0)).toBeUndefined()
      yield* applyAll([
        fill("BUY", "0.1", "42000", "4.2", "BTCUSDT"),
        fill("SELL", "1", "2000", "2", "ETHUSDT"),
        fill("SELL", "0.05", "43000", "2.15", "BTCUSDT")
      ])
      expect(view(yield* portfolio.position("ETHUSDT"))).toMatchObject({ markPrice: "2100", unrealizedPnl: "-100" })
      yield* portfolio.markToMarket("BTCUSDT", d("44000"), 1)
      const pnl = yield* portfolio.pnl
      // BTC: 0.05 * 1000 - 4.2 - 2.15 = 43.65 realized, 0.05 * 2000 = 100 unrealized; ETH: -2 realized, -100 unrealized
      expect({ realized: formatDecimal(pnl.realized), unrealized: formatDecimal(pnl.unrealized) }).toEqual({
        realized: "41.65",
        unrealized: "0"
      })
      expect((yield* portfolio.positions).map((p) => p.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT"])
      expect(yield* portfolio.position("SOLUSDT")).toBeUndefined()
    }).pipe(Effect.provide(MemoryPortfolio.layer)))
})
