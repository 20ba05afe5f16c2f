import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Either, Schema } from "effect"
import { readFileSync } from "node:fs"
import { formatDecimal } from "../../../../src/domain/Decimal.js"
import {
  ExchangeInfo,
  parseExchangeInfo,
  roundOrder,
  type SymbolFilters
} from "../../../../src/layers/execution/internal/binance/Filters.js"

// Binance's published filter values (SOURCES.md): BNBBTC and ETHBTC from the API docs, BTCUSDT recorded from production
const fixture = JSON.parse(readFileSync(new URL("../../../fixtures/binance/exchangeInfo.json", import.meta.url), "utf8"))
const symbols = parseExchangeInfo(Schema.decodeUnknownSync(ExchangeInfo)(fixture))
const filtersOf = (symbol: string): SymbolFilters => {
  const f = symbols.get(symbol)
  if (f === undefined) throw new Error(`${symbol} is not in the fixture`)
  return f
}

const d = BigDecimal.unsafeFromString
const round = (
  symbol: string,
  order: { side?: "BUY" | "SELL"; type?: "MARKET" | "LIMIT"; quantity: string; price: string }
) =>
  roundOrder(filtersOf(symbol), {
    side: order.side ?? "BUY",
    type: order.type ?? "LIMIT",
    quantity: d(order.quantity),
    price: d(order.price)
  })

/** The rounded quantity and price as the strings sent to the exchange. */
const sent = (result: ReturnType<typeof roundOrder>) => {
  if (Either.isLeft(result)) throw new Error(`expected a rounded order, got ${result.left.message}`)
  const { price, quantity } = result.right
  return { quantity: formatDecimal(quantity), price: price === undefined ? undefined : formatDecimal(price) }
}

const failure = (result: ReturnType<typeof roundOrder>) => {
  if (Either.isRight(result)) throw new Error(`expected a filter failure, got ${formatDecimal(result.right.quantity)}`)
  return result.left
}

describe("Filters against Binance's exchangeInfo", () => {
  it("reads each symbol's filters, ignoring the ones the broker does not check", () => {
    expect([...symbols.keys()]).toEqual(["BNBBTC", "ETHBTC", "BTCUSDT"])
    const bnb = filtersOf("BNBBTC")
    expect(bnb).toMatchObject({ symbol: "BNBBTC", baseAsset: "BNB", quoteAsset: "BTC" })
    expect(formatDecimal(bnb.price!.tickSize)).toBe("0.000001")
    expect(formatDecimal(bnb.lot!.stepSize)).toBe("0.001")
    expect(bnb.marketLot).toBeUndefined()
    expect(bnb.minNotional).toBeUndefined()
    const eth = filtersOf("ETHBTC").minNotional!
    expect({ ...eth, min: formatDecimal(eth.min), max: formatDecimal(eth.max!) }).toEqual({
      filter: "NOTIONAL",
      min: "10",
      max: "10000",
      market: false,
      maxMarket: false
    })
    const btc = filtersOf("BTCUSDT")
    expect(btc.minNotional).toMatchObject({ filter: "MIN_NOTIONAL", market: true })
    expect(formatDecimal(btc.marketLot!.maxQty)).toBe("112.2110882")
    expect(formatDecimal(btc.marketLot!.stepSize)).toBe("0")
  })

  it("rounds the quantity down to stepSize", () => {
    expect(sent(round("BTCUSDT", { quantity: "0.0012345", price: "42000" }))).toEqual({ quantity: "0.00123", price: "42000" })
    expect(sent(round("BNBBTC", { quantity: "1.23456789", price: "0.0075" })).quantity).toBe("1.234")
    // already on the step: unchanged
    expect(sent(round("BNBBTC", { quantity: "5.000", price: "0.0075" })).quantity).toBe("5")
  })

  it("rounds a LIMIT price to tickSize in the order's favour: a buy down, a sell up", () => {
    expect(sent(round("BTCUSDT", { side: "BUY", quantity: "0.001", price: "42000.019" })).price).toBe("42000.01")
    expect(sent(round("BTCUSDT", { side: "SELL", quantity: "0.001", price: "42000.011" })).price).toBe("42000.02")
    expect(sent(round("BNBBTC", { side: "BUY", quantity: "1", price: "0.00751299" })).price).toBe("0.007512")
    expect(sent(round("BNBBTC", { side: "SELL", quantity: "1", price: "0.00751201" })).price).toBe("0.007513")
    // on the tick: unchanged either way
    expect(sent(round("BNBBTC", { side: "SELL", quantity: "1", price: "0.007512" })).price).toBe("0.007512")
  })

  it("a MARKET order has no price, and is held to MARKET_LOT_SIZE when the symbol has one", () => {
    // MARKET_LOT_SIZE's stepSize is 0 (disabled): LOT_SIZE's step still applies
    expect(sent(round("BTCUSDT", { type: "MARKET", quantity: "0.5000099", price: "42000" }))).toEqual({
      quantity: "0.5",
      price: undefined
    })
    // within LOT_SIZE's maxQty 9000 but above MARKET_LOT_SIZE's 112.21108820
    const market = failure(round("BTCUSDT", { type: "MARKET", quantity: "112.21109", price: "10" }))
    expect(market.filter).toBe("MARKET_LOT_SIZE")
    expect(market.message).toBe("quantity 112.21109 is above MARKET_LOT_SIZE maxQty 112.2110882")
    // the same quantity as a LIMIT order is fine: MARKET_LOT_SIZE is for MARKET orders only
    expect(sent(round("BTCUSDT", { quantity: "112.21109", price: "10" })).quantity).toBe("112.21109")
    expect(sent(round("BTCUSDT", { type: "MARKET", quantity: "112.2110882", price: "10" })).quantity).toBe("112.21108")
  })

  it("below minQty is a LOT_SIZE failure, also when rounding down leaves nothing", () => {
    const below = failure(round("BNBBTC", { quantity: "0.0009", price: "0.0075" }))
    expect(below).toEqual({ filter: "LOT_SIZE", message: "quantity 0 is below LOT_SIZE minQty 0.001" })
    const btc = failure(round("BTCUSDT", { quantity: "0.000009", price: "42000" }))
    expect(btc).toEqual({ filter: "LOT_SIZE", message: "quantity 0 is below LOT_SIZE minQty 0.00001" })
  })

  it("above maxQty is a LOT_SIZE failure", () => {
    expect(failure(round("BTCUSDT", { quantity: "9000.00001", price: "0.01" }))).toEqual({
      filter: "LOT_SIZE",
      message: "quantity 9000.00001 is above LOT_SIZE maxQty 9000"
    })
    expect(sent(round("BTCUSDT", { quantity: "9000", price: "0.01" })).quantity).toBe("9000")
  })

  it("below minNotional is a NOTIONAL failure (ETHBTC) or a MIN_NOTIONAL one (BTCUSDT), named as Binance does", () => {
    // 0.001 ETH at 0.07 BTC = 0.00007 BTC, far below 10
    expect(failure(round("ETHBTC", { quantity: "0.001", price: "0.07" }))).toEqual({
      filter: "NOTIONAL",
      message: "notional 0.00007 is below NOTIONAL minNotional 10"
    })
    // 0.0002 BTC at 42000 = 8.4 USDT < 10; the rounded quantity counts: 0.000239 -> 0.00023 -> 9.66
    expect(failure(round("BTCUSDT", { quantity: "0.000239", price: "42000" }))).toEqual({
      filter: "MIN_NOTIONAL",
      message: "notional 9.66 is below MIN_NOTIONAL minNotional 10"
    })
    // exactly minNotional passes
    expect(sent(round("BTCUSDT", { quantity: "0.00025", price: "40000" })).quantity).toBe("0.00025")
  })

  it("applies minNotional to MARKET orders only as applyToMarket / applyMinToMarket say", () => {
    // BTCUSDT: MIN_NOTIONAL applyToMarket true, priced at the reference price
    expect(failure(round("BTCUSDT", { type: "MARKET", quantity: "0.0002", price: "42000" })).filter).toBe("MIN_NOTIONAL")
    // ETHBTC: NOTIONAL applyMinToMarket false
    expect(sent(round("ETHBTC", { type: "MARKET", quantity: "0.001", price: "0.07" })).quantity).toBe("0.001")
  })

  it("above maxNotional is a NOTIONAL failure for a LIMIT order; not for a MARKET one when applyMaxToMarket is false", () => {
    expect(failure(round("ETHBTC", { quantity: "1000", price: "10.000001" }))).toEqual({
      filter: "NOTIONAL",
      message: "notional 10000.001 is above NOTIONAL maxNotional 10000"
    })
    expect(sent(round("ETHBTC", { type: "MARKET", quantity: "1000", price: "10.000001" })).quantity).toBe("1000")
  })

  it("holds a MARKET order to maxNotional when applyMaxToMarket is true", () => {
    // ETHBTC's NOTIONAL with the one flag turned on (filters.md: applyMaxToMarket)
    const eth = fixture.symbols.find((s: { symbol: string }) => s.symbol === "ETHBTC")
    const flipped = {
      symbols: [{
        ...eth,
        filters: eth.filters.map((f: Record<string, unknown>) => f.filterType === "NOTIONAL" ? { ...f, applyMaxToMarket: true } : f)
      }]
    }
    const filters = parseExchangeInfo(Schema.decodeUnknownSync(ExchangeInfo)(flipped)).get("ETHBTC")!
    const order = { side: "BUY", type: "MARKET", quantity: d("1000"), price: d("10.000001") } as const
    expect(Either.getLeft(roundOrder(filters, order))).toEqual(
      Either.getLeft(Either.left({ filter: "NOTIONAL", message: "notional 10000.001 is above NOTIONAL maxNotional 10000" }))
    )
  })

  it("a price outside minPrice-maxPrice is a PRICE_FILTER failure", () => {
    expect(failure(round("BNBBTC", { quantity: "1", price: "100000.000001" }))).toEqual({
      filter: "PRICE_FILTER",
      message: "price 100000.000001 is outside PRICE_FILTER 0.000001-100000"
    })
    // a buy at 0.0000019 rounds down to 0.000001 = minPrice: allowed; 0.0000009 rounds to 0
    expect(sent(round("BNBBTC", { quantity: "100000", price: "0.0000019" })).price).toBe("0.000001")
    expect(failure(round("BNBBTC", { quantity: "1", price: "0.0000009" })).filter).toBe("PRICE_FILTER")
    expect(failure(round("BTCUSDT", { side: "SELL", quantity: "0.001", price: "1000000.001" }))).toEqual({
      filter: "PRICE_FILTER",
      message: "price 1000000.01 is outside PRICE_FILTER 0.01-1000000"
    })
  })
})
