import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import type { Order } from "../../../../src/domain/Order.js"
import type { SymbolFilters } from "../../../../src/layers/execution/internal/binance/Filters.js"
import { makeOrderProgress, type OrderView, type Trade } from "../../../../src/layers/execution/internal/binance/OrderProgress.js"

const d = BigDecimal.unsafeFromString
const f = (x: BigDecimal.BigDecimal | undefined) => x === undefined ? undefined : BigDecimal.format(BigDecimal.normalize(x))
const filters: SymbolFilters = { symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT" }
const order: Order = {
  clientOrderId: "o-1",
  symbol: "BTCUSDT",
  side: "BUY",
  type: "MARKET",
  quantity: d("0.003"),
  price: d("42000"),
  status: "NEW",
  createdAt: 1,
  updatedAt: 1
}
const trade = (tradeId: number, qty: string, price: string, cumulative: string, commission = "0", asset = "BTC"): Trade => ({
  tradeId,
  quantity: d(qty),
  price: d(price),
  commission: d(commission),
  commissionAsset: asset,
  cumulativeQuantity: d(cumulative)
})
const view = (status: string, executed: string, quote: string, trades: ReadonlyArray<Trade> = []): OrderView => ({
  orderId: 7,
  status,
  executedQuantity: d(executed),
  cumulativeQuote: d(quote),
  trades,
  time: 100
})

describe("OrderProgress: each part of an order counted once, whoever reports it", () => {
  it("a report repeated by the answer and the stream is one part; the last part is the outcome", () => {
    const p = makeOrderProgress(order, filters, d("0.001"))
    const first = p.apply(view("PARTIALLY_FILLED", "0.001", "42", [trade(1, "0.001", "42000", "0.001", "0.000001")]))
    expect(first.fills.map((x) => [x.tradeId, f(x.quantity), x.status, f(x.netQuantity), f(x.fee)])).toEqual([
      ["1", "0.001", "PARTIALLY_FILLED", "0.000999", "0.042"]
    ])
    expect(first.end).toBeUndefined()
    // the same trade again (the user data stream after the answer): nothing new
    expect(p.apply(view("PARTIALLY_FILLED", "0.001", "42", [trade(1, "0.001", "42000", "0.001", "0.000001")])).fills).toEqual([])
    const last = p.apply(view("FILLED", "0.003", "127", [trade(2, "0.002", "42500", "0.003", "0.000002")]))
    expect(last.fills).toEqual([])
    expect(last.end?._tag).toBe("Filled")
    const fill = last.end?._tag === "Filled" ? last.end.fill : undefined
    expect([f(fill?.quantity), f(fill?.price), fill?.status, f(fill?.cumulativeQuantity), f(fill?.cumulativeQuote)])
      .toEqual(["0.002", "42500", "FILLED", "0.003", "127"])
  })

  it("a query's total first, the trades it stood for later: counted once, the rest at the average price", () => {
    const p = makeOrderProgress(order, filters, d("0.001"))
    const queried = p.apply(view("PARTIALLY_FILLED", "0.002", "85"))
    expect(queried.fills.map((x) => [f(x.quantity), f(x.price), f(x.fee)])).toEqual([["0.002", "42500", "0.085"]])
    // the two trades the query counted arrive from the stream: nothing new; the third is
    expect(p.apply(view("PARTIALLY_FILLED", "0.001", "42", [trade(1, "0.001", "42000", "0.001")])).fills).toEqual([])
    const end = p.apply(view("FILLED", "0.003", "128", [trade(3, "0.001", "43000", "0.003", "0.01", "USDT")]))
    expect(end.end?._tag === "Filled" ? [f(end.end.fill.quantity), f(end.end.fill.fee), f(end.end.fill.netQuantity)] : undefined)
      .toEqual(["0.001", "0.01", undefined])
  })

  it("cancelled after a part filled: the part is a fill, the end says how much of the order filled", () => {
    const p = makeOrderProgress({ ...order, type: "LIMIT" }, filters, d("0.001"))
    expect(p.apply(view("PARTIALLY_FILLED", "0.001", "42", [trade(1, "0.001", "42000", "0.001")])).fills).toHaveLength(1)
    const end = p.apply(view("CANCELED", "0.001", "42"))
    expect(end.fills).toEqual([])
    expect(end.end).toEqual({ _tag: "Ended", status: "CANCELED", reason: "CANCELED on the exchange after 0.001 of 0.003 filled" })
  })

  it("fills journaled before a restart are not reported again", () => {
    const before = makeOrderProgress(order, filters, d("0.001"))
    const journaled = before.apply(view("PARTIALLY_FILLED", "0.001", "42", [trade(1, "0.001", "42000", "0.001")])).fills
    const after = makeOrderProgress(order, filters, d("0.001"), journaled)
    const end = after.apply(view("FILLED", "0.003", "126", [trade(1, "0.001", "42000", "0.001"), trade(2, "0.002", "42000", "0.003")]))
    expect(end.fills).toEqual([])
    expect(end.end?._tag === "Filled" ? [end.end.fill.tradeId, f(end.end.fill.quantity)] : undefined).toEqual(["2", "0.002"])
  })

  it("a commission in a third asset (BNB) is kept as charged, not valued", () => {
    const p = makeOrderProgress(order, filters, d("0.001"))
    const end = p.apply(view("FILLED", "0.003", "126", [trade(1, "0.003", "42000", "0.003", "0.0002", "BNB")]))
    const fill = end.end?._tag === "Filled" ? end.end.fill : undefined
    expect([f(fill?.fee), f(fill?.commission), fill?.commissionAsset, f(fill?.netQuantity)]).toEqual(["0", "0.0002", "BNB", undefined])
  })
})
