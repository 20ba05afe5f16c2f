import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import {
  attempt,
  ed25519,
  getPublic,
  hmac,
  hmacKey,
  signed,
  startExchange
} from "../../support/simulatorTrading.js"

const buy = (quantity: string, id: string, extra: ReadonlyArray<readonly [string, string]> = []) =>
  [["symbol", "BTCUSDT"], ["side", "BUY"], ["type", "MARKET"], ["quantity", quantity], ["newClientOrderId", id], ...extra] as const
const limit = (side: "BUY" | "SELL", quantity: string, price: string, id: string) =>
  [
    ["symbol", "BTCUSDT"],
    ["side", side],
    ["type", "LIMIT"],
    ["timeInForce", "GTC"],
    ["quantity", quantity],
    ["price", price],
    ["newClientOrderId", id]
  ] as const

describe("SimulatedExchange trading API", () => {
  it.scopedLive("exchangeInfo lists each symbol's filters; every answer carries the minute's weight", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const info = yield* getPublic(`${exchange.restUrl}/api/v3/exchangeInfo`)
      expect(info.status).toBe(200)
      expect(info.headers.get("x-mbx-used-weight-1m")).toBe("20")
      const btc = info.body.symbols.find((s: any) => s.symbol === "BTCUSDT")
      expect(btc).toMatchObject({ status: "TRADING", baseAsset: "BTC", quoteAsset: "USDT" })
      expect(btc.filters).toEqual([
        { filterType: "PRICE_FILTER", minPrice: "0.01000000", maxPrice: "1000000.00000000", tickSize: "0.01000000" },
        { filterType: "LOT_SIZE", minQty: "0.00001000", maxQty: "9000.00000000", stepSize: "0.00001000" },
        { filterType: "MARKET_LOT_SIZE", minQty: "0.00001000", maxQty: "900.00000000", stepSize: "0.00001000" },
        {
          filterType: "NOTIONAL",
          minNotional: "5.00000000",
          applyMinToMarket: true,
          maxNotional: "9000000.00000000",
          applyMaxToMarket: false,
          avgPriceMins: 5
        }
      ])
      const eth = yield* getPublic(`${exchange.restUrl}/api/v3/exchangeInfo?symbol=ETHUSDT`)
      expect(eth.body.symbols.map((s: any) => s.symbol)).toEqual(["ETHUSDT"])
      expect(eth.body.symbols[0].filters[1].stepSize).toBe("0.00010000")
      expect(eth.headers.get("x-mbx-used-weight-1m")).toBe("40")
      expect((yield* getPublic(`${exchange.restUrl}/api/v3/exchangeInfo?symbol=XRPUSDT`)).body).toEqual({
        code: -1121,
        msg: "Invalid symbol."
      })
      const klines = yield* getPublic(`${exchange.restUrl}/api/v3/klines?symbol=BTCUSDT&interval=1m`)
      expect(klines.headers.get("x-mbx-used-weight-1m")).toBe("62")
    }))

  it.scopedLive("a MARKET order fills at the walk's price with a FULL answer; balances move by fill and commission", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const placed = yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.00100", "order-1"))
      expect(placed.status).toBe(200)
      expect(placed.headers.get("x-mbx-used-weight-1m")).toBe("1")
      expect(placed.body).toMatchObject({
        symbol: "BTCUSDT",
        orderId: 1,
        orderListId: -1,
        clientOrderId: "order-1",
        price: "0.00000000",
        origQty: "0.00100000",
        executedQty: "0.00100000",
        origQuoteOrderQty: "0.00000000",
        cummulativeQuoteQty: "42.00000000",
        status: "FILLED",
        timeInForce: "GTC",
        type: "MARKET",
        side: "BUY",
        selfTradePreventionMode: "NONE",
        fills: [{ price: "42000.00000000", qty: "0.00100000", commission: "0.00000100", commissionAsset: "BTC", tradeId: 1 }]
      })
      expect(placed.body.transactTime).toBeTypeOf("number")
      const byClientId = yield* signed(exchange.restUrl, "GET", "/api/v3/order", [
        ["symbol", "BTCUSDT"],
        ["origClientOrderId", "order-1"]
      ])
      expect(byClientId.body).toMatchObject({ orderId: 1, status: "FILLED", executedQty: "0.00100000", isWorking: false })
      expect(byClientId.headers.get("x-mbx-used-weight-1m")).toBe("5")
      const byId = yield* signed(exchange.restUrl, "GET", "/api/v3/order", [["symbol", "BTCUSDT"], ["orderId", "1"]])
      expect(byId.body).toEqual(byClientId.body)
      const account = yield* signed(exchange.restUrl, "GET", "/api/v3/account", [["omitZeroBalances", "true"]])
      expect(account.body.balances).toEqual([
        { asset: "BTC", free: "1.00099900", locked: "0.00000000" },
        { asset: "USDT", free: "99958.00000000", locked: "0.00000000" }
      ])
      expect(account.body).toMatchObject({ canTrade: true, accountType: "SPOT", commissionRates: { taker: "0.00100000" } })

      const sold = yield* signed(exchange.restUrl, "POST", "/api/v3/order", [
        ["symbol", "BTCUSDT"],
        ["side", "SELL"],
        ["type", "MARKET"],
        ["quantity", "0.5"],
        ["newOrderRespType", "RESULT"]
      ])
      expect(sold.body).toMatchObject({ status: "FILLED", cummulativeQuoteQty: "21000.00000000", side: "SELL" })
      expect(sold.body.fills).toBeUndefined()
      expect(sold.body.clientOrderId).toMatch(/^[A-Za-z0-9]{22}$/)
      expect(yield* exchange.control.balances).toMatchObject({
        BTC: { free: "0.50099900" },
        // 21000 in, 21 commission out
        USDT: { free: "120937.00000000" }
      })
      const ack = yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.001", "order-3", [["newOrderRespType", "ACK"]]))
      expect(Object.keys(ack.body).sort()).toEqual(["clientOrderId", "orderId", "orderListId", "symbol", "transactTime"])
    }))

  it.scopedLive("a LIMIT order rests, is listed open, fills when the price crosses it, and can be cancelled", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const resting = yield* signed(exchange.restUrl, "POST", "/api/v3/order", limit("BUY", "0.01", "41000.00", "lim-1"))
      expect(resting.body).toMatchObject({ status: "NEW", executedQty: "0.00000000", fills: [] })
      expect((yield* exchange.control.balances).USDT).toEqual({ free: "99590.00000000", locked: "410.00000000" })
      const open = yield* signed(exchange.restUrl, "GET", "/api/v3/openOrders", [["symbol", "BTCUSDT"]])
      expect(open.body.map((o: any) => o.clientOrderId)).toEqual(["lim-1"])
      expect(open.body[0]).toMatchObject({ isWorking: true, price: "41000.00000000" })

      yield* exchange.control.setPrice("BTCUSDT", "41500.00")
      expect((yield* exchange.control.orders)[0]!.status).toBe("NEW")
      yield* exchange.control.setPrice("BTCUSDT", "40900.00")
      const filled = yield* signed(exchange.restUrl, "GET", "/api/v3/order", [["symbol", "BTCUSDT"], ["origClientOrderId", "lim-1"]])
      // a resting order fills at its own price, as the maker
      expect(filled.body).toMatchObject({ status: "FILLED", executedQty: "0.01000000", cummulativeQuoteQty: "410.00000000" })
      expect((yield* exchange.control.balances).USDT).toEqual({ free: "99590.00000000", locked: "0.00000000" })

      const second = yield* signed(exchange.restUrl, "POST", "/api/v3/order", limit("SELL", "0.1", "45000.00", "lim-2"))
      expect(second.body.status).toBe("NEW")
      const cancelled = yield* signed(exchange.restUrl, "DELETE", "/api/v3/order", [
        ["symbol", "BTCUSDT"],
        ["origClientOrderId", "lim-2"],
        ["newClientOrderId", "cancel-2"]
      ])
      expect(cancelled.body).toMatchObject({
        symbol: "BTCUSDT",
        origClientOrderId: "lim-2",
        clientOrderId: "cancel-2",
        status: "CANCELED",
        executedQty: "0.00000000"
      })
      expect((yield* exchange.control.balances).BTC!.locked).toBe("0.00000000")
      const again = yield* signed(exchange.restUrl, "DELETE", "/api/v3/order", [["symbol", "BTCUSDT"], ["orderId", "2"]])
      expect(again.body).toEqual({ code: -2011, msg: "Unknown order sent." })
      const marketable = yield* signed(exchange.restUrl, "POST", "/api/v3/order", limit("BUY", "0.01", "50000.00", "lim-3"))
      // marketable at once: a taker at the current price
      expect(marketable.body).toMatchObject({ status: "FILLED", fills: [{ price: "40900.00000000" }] })
      expect((yield* signed(exchange.restUrl, "GET", "/api/v3/openOrders", [])).body).toEqual([])
    }))

  it.scopedLive("answers Binance's codes: -2014, -2015, -1102, -1022, -1021, -1131, -2013, -2010, -1013 naming the filter", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const url = exchange.restUrl
      const order = "/api/v3/order"
      const error = (reply: { body: any }) => reply.body as { code: number; msg: string }
      expect(yield* signed(url, "GET", "/api/v3/account", [], { apiKey: undefined })).toMatchObject({
        status: 401,
        body: { code: -2014, msg: "API-key format invalid." }
      })
      expect(yield* signed(url, "GET", "/api/v3/account", [], { apiKey: "unknown" })).toMatchObject({
        status: 401,
        body: { code: -2015, msg: "Invalid API-key, IP, or permissions for action." }
      })
      // a parameter added after signing, or the other key type's signature
      expect(yield* signed(url, "POST", order, buy("0.001", "x1"), { after: "&quantity=1" })).toMatchObject({
        status: 400,
        body: { code: -1022, msg: "Signature for this request is not valid." }
      })
      expect(error(yield* signed(url, "GET", "/api/v3/account", [], { signer: yield* hmac, apiKey: "ed25519-key" })).code)
        .toBe(-1022)
      const unsigned = yield* getPublic(`${url}/api/v3/account?timestamp=${Date.now()}`)
      expect(unsigned.body).toEqual({ code: -2014, msg: "API-key format invalid." })
      expect(yield* signed(url, "GET", "/api/v3/account", [], { timestamp: Date.now() - 6_000 })).toMatchObject({
        status: 400,
        body: { code: -1021, msg: "Timestamp for this request is outside of the recvWindow." }
      })
      expect(error(yield* signed(url, "GET", "/api/v3/account", [], { timestamp: Date.now() + 1_500 }))).toEqual({
        code: -1021,
        msg: "Timestamp for this request was 1000ms ahead of the server's time."
      })
      expect((yield* signed(url, "GET", "/api/v3/account", [["recvWindow", "10000"]], { timestamp: Date.now() - 6_000 })).status)
        .toBe(200)
      expect(error(yield* signed(url, "GET", "/api/v3/account", [["recvWindow", "70000"]])).code).toBe(-1131)
      // a skewed server clock makes a correct client's timestamps stale
      yield* exchange.control.skewClock(10_000)
      expect(error(yield* signed(url, "GET", "/api/v3/account", [])).code).toBe(-1021)
      const serverTime = (yield* getPublic(`${url}/api/v3/time`)).body.serverTime as number
      expect(serverTime - Date.now()).toBeGreaterThan(9_000)
      expect((yield* signed(url, "GET", "/api/v3/account", [], { timestamp: serverTime })).status).toBe(200)
      yield* exchange.control.skewClock(0)

      expect(yield* signed(url, "GET", order, [["symbol", "BTCUSDT"], ["origClientOrderId", "never"]])).toMatchObject({
        status: 400,
        body: { code: -2013, msg: "Order does not exist." }
      })
      expect(error(yield* signed(url, "GET", order, [["symbol", "BTCUSDT"]])).code).toBe(-1102)
      expect(error(yield* signed(url, "POST", order, buy("0.001", "x").slice(1))).code).toBe(-1102)
      expect(error(yield* signed(url, "GET", order, [["symbol", "XRPUSDT"], ["orderId", "1"]])).code).toBe(-1121)

      // duplicate client id among open orders: rejected; once filled, the id is accepted again
      expect((yield* signed(url, "POST", order, limit("BUY", "0.01", "40000.00", "dup"))).body.status).toBe("NEW")
      expect(yield* signed(url, "POST", order, limit("BUY", "0.01", "40000.00", "dup"))).toMatchObject({
        status: 400,
        body: { code: -2010, msg: "Duplicate order sent." }
      })
      expect((yield* signed(url, "POST", order, buy("0.001", "done"))).body.status).toBe("FILLED")
      expect((yield* signed(url, "POST", order, buy("0.001", "done"))).body.status).toBe("FILLED")

      const filter = (params: ReadonlyArray<readonly [string, string]>) =>
        Effect.map(signed(url, "POST", order, params), (r) => ({ status: r.status, ...error(r) }))
      expect(yield* filter(buy("0.000015", "f1"))).toEqual({ status: 400, code: -1013, msg: "Filter failure: LOT_SIZE" })
      expect((yield* filter(buy("10000", "f2"))).msg).toBe("Filter failure: LOT_SIZE")
      expect((yield* filter(buy("1000", "f3"))).msg).toBe("Filter failure: MARKET_LOT_SIZE")
      expect((yield* filter(buy("0.0001", "f4"))).msg).toBe("Filter failure: NOTIONAL")
      expect((yield* filter(limit("BUY", "0.01", "42000.001", "f5"))).msg).toBe("Filter failure: PRICE_FILTER")
      expect((yield* filter(limit("BUY", "0.0001", "42000.00", "f6"))).msg).toBe("Filter failure: NOTIONAL")
      expect(yield* filter(buy("10", "f7"))).toEqual({
        status: 400,
        code: -2010,
        msg: "Account has insufficient balance for requested action."
      })
      expect((yield* filter(buy("1e-3", "f8"))).code).toBe(-1100)
      // none of the refused orders exists on the exchange
      expect((yield* exchange.control.orders).map((o) => o.clientOrderId)).toEqual(["dup", "done", "done"])
    }))

  it.scopedLive("verifies Ed25519 signatures, and parameters signed in the body", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const signer = yield* ed25519
      const placed = yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.001", "ed-1"), { signer })
      expect(placed.body.status).toBe("FILLED")
      expect((yield* signed(exchange.restUrl, "GET", "/api/v3/account", [], { signer, after: "&x=1" })).body.code).toBe(-1022)
      const inBody = yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.001", "body-1"), { inBody: true })
      expect(inBody.body).toMatchObject({ status: "FILLED", clientOrderId: "body-1" })
      expect(hmacKey.apiKey).toBe("hmac-key")
    }))

  it.scopedLive("faults: an accepted order whose answer is dropped or a 5XX still exists, once", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      yield* exchange.control.dropOrderResponses(1)
      const dropped = yield* attempt(signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.001", "lost-1")))
      expect(Exit.isFailure(dropped)).toBe(true)
      yield* exchange.control.failAfterAccepting(1, 503)
      const failed = yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.001", "lost-2"))
      expect(failed).toMatchObject({
        status: 503,
        body: {
          code: -1007,
          msg: "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
        }
      })
      const orders = yield* exchange.control.orders
      expect(orders.map((o) => [o.clientOrderId, o.status])).toEqual([["lost-1", "FILLED"], ["lost-2", "FILLED"]])
      const found = yield* signed(exchange.restUrl, "GET", "/api/v3/order", [["symbol", "BTCUSDT"], ["origClientOrderId", "lost-1"]])
      expect(found.body).toMatchObject({ status: "FILLED", executedQty: "0.00100000" })
      // the faults were one-shot
      expect((yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.001", "ok"))).status).toBe(200)
    }))

  it.scopedLive("faults: 429 and 418 with Retry-After refuse without placing", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      yield* exchange.control.rateLimit({ count: 2, retryAfterSeconds: 3 })
      const limited = yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.001", "rl-1"))
      expect(limited.status).toBe(429)
      expect(limited.headers.get("retry-after")).toBe("3")
      expect(limited.headers.get("x-mbx-used-weight-1m")).toBe("1")
      expect(limited.body.code).toBe(-1003)
      expect((yield* getPublic(`${exchange.restUrl}/api/v3/time`)).status).toBe(429)
      yield* exchange.control.rateLimit({ status: 418, retryAfterSeconds: 60 })
      const banned = yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.001", "rl-1"))
      expect(banned.status).toBe(418)
      expect(banned.headers.get("retry-after")).toBe("60")
      expect(yield* exchange.control.orders).toEqual([])
      expect((yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.001", "rl-1"))).status).toBe(200)
    }))

  it.scopedLive("faults: a MARKET order filled in parts, one more at each later price", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      yield* exchange.control.fillMarketInParts(3)
      const placed = yield* signed(exchange.restUrl, "POST", "/api/v3/order", buy("0.00100", "parts"))
      expect(placed.body).toMatchObject({
        status: "PARTIALLY_FILLED",
        executedQty: "0.00033000",
        fills: [{ price: "42000.00000000", qty: "0.00033000" }]
      })
      yield* exchange.control.setPrice("BTCUSDT", "42100.00")
      yield* exchange.control.setPrice("BTCUSDT", "42200.00")
      yield* exchange.control.setPrice("BTCUSDT", "42300.00")
      const done = yield* signed(exchange.restUrl, "GET", "/api/v3/order", [["symbol", "BTCUSDT"], ["origClientOrderId", "parts"]])
      // 0.00033 x 42000 + 0.00033 x 42100 + 0.00034 x 42200; the price after it is not used
      expect(done.body).toMatchObject({ status: "FILLED", executedQty: "0.00100000", cummulativeQuoteQty: "42.10100000" })
    }))
})
