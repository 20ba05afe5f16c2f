import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { WebSocket } from "ws"
import { candleAt, defaultStartTime, type WalkSpec } from "../../../src/layers/market/SimulatedExchange.js"
import { decimalsFor } from "../../../src/layers/market/internal/simulator/RandomWalk.js"
import { connectApi, ed25519, hmac, signed, startExchange, waitFor } from "../../support/simulatorTrading.js"

const market = (quantity: string, id: string) =>
  [["symbol", "BTCUSDT"], ["side", "BUY"], ["type", "MARKET"], ["quantity", quantity], ["newClientOrderId", id]] as const
const reports = (events: Array<any>) => events.map((m) => m.event).filter((e) => e.e === "executionReport")

describe("SimulatedExchange WebSocket API: user data", () => {
  it.scopedLive("subscribes with a signature (HMAC or Ed25519) and refuses a bad one, a stale one, a second one", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      expect(exchange.wsApiUrl).toBe(`${exchange.wsUrl}/ws-api/v3`)
      const api = yield* connectApi(exchange.wsApiUrl)
      const first = yield* api.subscribe(yield* hmac)
      expect(first).toEqual({ id: first.id, status: 200, result: { subscriptionId: 0 } })
      const again = yield* api.subscribe(yield* hmac)
      expect(again).toMatchObject({ status: 400, error: { code: -2035, msg: "User Data Stream subscription already active." } })
      const ed = yield* api.subscribe(yield* ed25519)
      expect(ed.result).toEqual({ subscriptionId: 1 })
      expect((yield* api.call("session.subscriptions", {})).result).toEqual([{ subscriptionId: 0 }, { subscriptionId: 1 }])

      const other = yield* connectApi(exchange.wsApiUrl)
      const signer = yield* hmac
      const tampered = yield* other.call("userDataStream.subscribe.signature", {
        apiKey: "hmac-key",
        timestamp: Date.now(),
        signature: signer.sign(`apiKey=hmac-key&timestamp=${Date.now() - 1}`)
      })
      expect(tampered).toMatchObject({ status: 400, error: { code: -1022, msg: "Signature for this request is not valid." } })
      const stale = yield* other.subscribe(signer, { timestamp: Date.now() - 10_000 })
      expect(stale.error).toEqual({ code: -1021, msg: "Timestamp for this request is outside of the recvWindow." })
      expect((yield* other.subscribe(signer, { timestamp: Date.now() - 10_000, recvWindow: 20_000 })).status).toBe(200)
      expect((yield* other.call("userDataStream.subscribe.signature", { apiKey: "nobody", timestamp: 1, signature: "x" })).error)
        .toEqual({ code: -2015, msg: "Invalid API-key, IP, or permissions for action." })
      expect((yield* other.call("time")).result.serverTime).toBeGreaterThan(defaultStartTime)
      expect((yield* other.call("userDataStream.unsubscribe", { subscriptionId: 0 })).result).toEqual({})
      expect((yield* other.call("session.subscriptions")).result).toEqual([])
      expect(yield* exchange.control.userDataSubscriptions).toBe(2)
    }))

  it.scopedLive("pushes { subscriptionId, event } executionReports with Binance's fields, and account positions", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const api = yield* connectApi(exchange.wsApiUrl)
      yield* api.subscribe(yield* hmac)
      const before = Date.now()
      const placed = yield* signed(exchange.restUrl, "POST", "/api/v3/order", market("0.00100", "ur-1"))
      yield* waitFor("two reports", () => reports(api.events()).length >= 2)
      const [created, trade] = reports(api.events())
      expect(api.events()[0].subscriptionId).toBe(0)
      expect(created).toMatchObject({
        e: "executionReport",
        s: "BTCUSDT",
        c: "ur-1",
        S: "BUY",
        o: "MARKET",
        q: "0.00100000",
        p: "0.00000000",
        x: "NEW",
        X: "NEW",
        i: placed.body.orderId,
        l: "0.00000000",
        z: "0.00000000",
        L: "0.00000000",
        n: "0",
        N: null,
        t: -1,
        Z: "0.00000000"
      })
      expect(trade).toMatchObject({
        c: "ur-1",
        x: "TRADE",
        X: "FILLED",
        i: placed.body.orderId,
        l: "0.00100000",
        z: "0.00100000",
        L: "42000.00000000",
        Z: "42.00000000",
        n: "0.00000100",
        N: "BTC",
        t: placed.body.fills[0].tradeId
      })
      expect(trade.E).toBeGreaterThanOrEqual(before)
      expect(trade.T).toBe(placed.body.transactTime)
      const position = api.events().map((m) => m.event).find((e) => e.e === "outboundAccountPosition")
      expect(position.B).toEqual([
        { a: "BTC", f: "1.00099900", l: "0.00000000" },
        { a: "USDT", f: "99958.00000000", l: "0.00000000" }
      ])

      // a cancel's report carries the cancel's own id in c and the order's in C
      yield* signed(exchange.restUrl, "POST", "/api/v3/order", [
        ["symbol", "BTCUSDT"],
        ["side", "BUY"],
        ["type", "LIMIT"],
        ["timeInForce", "GTC"],
        ["quantity", "0.001"],
        ["price", "40000.00"],
        ["newClientOrderId", "ur-2"]
      ])
      yield* signed(exchange.restUrl, "DELETE", "/api/v3/order", [
        ["symbol", "BTCUSDT"],
        ["origClientOrderId", "ur-2"],
        ["newClientOrderId", "ur-2-cancel"]
      ])
      yield* waitFor("the cancel's report", () => reports(api.events()).some((e) => e.x === "CANCELED"))
      expect(reports(api.events()).find((e) => e.x === "CANCELED")).toMatchObject({ c: "ur-2-cancel", C: "ur-2", X: "CANCELED" })
    }))

  it.scopedLive("fault: the user-data socket drops in the middle of a partly filled order; a new subscription sees the rest", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const api = yield* connectApi(exchange.wsApiUrl)
      yield* api.subscribe(yield* ed25519)
      yield* exchange.control.fillMarketInParts(2)
      yield* exchange.control.dropUserDataOnPartialFill
      const placed = yield* signed(exchange.restUrl, "POST", "/api/v3/order", market("0.00200", "half"))
      expect(placed.body.status).toBe("PARTIALLY_FILLED")
      yield* waitFor("the drop", () => api.closed)
      expect(reports(api.events()).map((e) => [e.x, e.X, e.l, e.z])).toEqual([
        ["NEW", "NEW", "0.00000000", "0.00000000"],
        ["TRADE", "PARTIALLY_FILLED", "0.00100000", "0.00100000"]
      ])
      expect(yield* exchange.control.userDataSubscriptions).toBe(0)

      const again = yield* connectApi(exchange.wsApiUrl)
      expect((yield* again.subscribe(yield* ed25519)).result).toEqual({ subscriptionId: 0 })
      yield* exchange.control.setPrice("BTCUSDT", "42010.00")
      yield* waitFor("the last part", () => reports(again.events()).length > 0)
      expect(reports(again.events())[0]).toMatchObject({ c: "half", x: "TRADE", X: "FILLED", l: "0.00100000", z: "0.00200000", L: "42010.00000000" })
      expect((yield* exchange.control.orders).filter((o) => o.clientOrderId === "half")).toHaveLength(1)
    }))

  it.scopedLive("a resting LIMIT order fills when the walk itself crosses it", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange({ speed: 500, symbols: ["btcusdt"] })
      const spec: WalkSpec = {
        symbol: "BTCUSDT",
        seed: 42,
        interval: "1m",
        intervalMs: 60_000,
        startTime: defaultStartTime,
        startPrice: 42_000,
        ...decimalsFor(42_000)
      }
      // the lowest close of the first 40 candles: the walk reaches it, so a buy there fills
      const lowest = Array.from({ length: 40 }, (_, k) => Number(candleAt(spec, k).close)).reduce((a, b) => Math.min(a, b))
      expect(lowest).toBeLessThan(42_000)
      const api = yield* connectApi(exchange.wsApiUrl)
      yield* api.subscribe(yield* hmac)
      const price = lowest.toFixed(2)
      const placed = yield* signed(exchange.restUrl, "POST", "/api/v3/order", [
        ["symbol", "BTCUSDT"],
        ["side", "BUY"],
        ["type", "LIMIT"],
        ["timeInForce", "GTC"],
        ["quantity", "0.001"],
        ["price", price],
        ["newClientOrderId", "walk"]
      ])
      expect(placed.body.status).toBe("NEW")
      // the market opens with its first kline subscriber
      const klines = new WebSocket(`${exchange.wsUrl}/ws/btcusdt@kline_1m`)
      yield* Effect.addFinalizer(() => Effect.sync(() => klines.terminate()))
      yield* waitFor("the fill", () => reports(api.events()).some((e) => e.X === "FILLED"), 10_000)
      expect(reports(api.events()).find((e) => e.X === "FILLED")).toMatchObject({ c: "walk", L: `${price}000000`, m: true })
    }))
})
