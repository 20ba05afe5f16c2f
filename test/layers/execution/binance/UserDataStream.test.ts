import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { WebSocketServer } from "ws"
import { hmacSigner } from "../../../../src/layers/execution/internal/binance/signing.js"
import { ed25519, hmac, hmacKey, signed, startExchange, waitFor } from "../../../support/simulatorTrading.js"
import { same, start, withKey } from "./userDataHarness.js"

const market = (quantity: string, id: string) =>
  [["symbol", "BTCUSDT"], ["side", "BUY"], ["type", "MARKET"], ["quantity", quantity], ["newClientOrderId", id]] as const

describe("makeUserDataStream (against the simulated exchange)", () => {
  it.scopedLive("subscribes with HMAC; a MARKET order's NEW and TRADE reports arrive with exact decimals", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const { reports, stream, subscribed } = yield* start({ wsApiUrl: exchange.wsApiUrl, ...withKey(yield* hmac) })
      expect(yield* stream.connected).toBe(true)
      expect(yield* exchange.control.userDataSubscriptions).toBe(1)
      yield* waitFor("onSubscribed", () => subscribed.length === 1)
      expect(subscribed).toEqual([false])

      const placed = yield* signed(exchange.restUrl, "POST", "/api/v3/order", market("0.00100", "uds-1"))
      yield* waitFor("two reports", () => reports.length >= 2)
      const [created, trade] = reports
      expect(created).toMatchObject({
        symbol: "BTCUSDT",
        clientOrderId: "uds-1",
        origClientOrderId: undefined,
        side: "BUY",
        orderType: "MARKET",
        executionType: "NEW",
        status: "NEW",
        rejectReason: "NONE",
        orderId: placed.body.orderId,
        commissionAsset: undefined,
        tradeId: undefined
      })
      same(created.quantity, "0.001")
      same(created.lastQuantity, "0")
      same(created.cumulativeQuantity, "0")
      expect(trade).toMatchObject({
        clientOrderId: "uds-1",
        executionType: "TRADE",
        status: "FILLED",
        orderId: placed.body.orderId,
        commissionAsset: "BTC",
        tradeId: placed.body.fills[0].tradeId,
        transactTime: placed.body.transactTime
      })
      same(trade.lastQuantity, "0.001")
      same(trade.cumulativeQuantity, "0.001")
      same(trade.lastPrice, "42000")
      same(trade.cumulativeQuote, "42")
      same(trade.commission, "0.000001")
      expect(trade.eventTime).toBeGreaterThan(0)
      expect(yield* stream.malformed).toBe(0)
      expect(yield* stream.reconnects).toBe(0)
    }))

  it.scopedLive("subscribes with Ed25519; a LIMIT order's NEW, then its cancel with the original id in origClientOrderId", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const { reports, subscribed } = yield* start({ wsApiUrl: exchange.wsApiUrl, ...withKey(yield* ed25519) })
      const limit = [
        ["symbol", "BTCUSDT"],
        ["side", "BUY"],
        ["type", "LIMIT"],
        ["timeInForce", "GTC"],
        ["quantity", "0.002"],
        ["price", "40000.00"]
      ] as const
      const signer = yield* ed25519
      yield* signed(exchange.restUrl, "POST", "/api/v3/order", [...limit, ["newClientOrderId", "lim-1"]], { signer })
      yield* signed(exchange.restUrl, "DELETE", "/api/v3/order", [
        ["symbol", "BTCUSDT"],
        ["origClientOrderId", "lim-1"],
        ["newClientOrderId", "lim-1-cancel"]
      ], { signer })
      yield* signed(exchange.restUrl, "POST", "/api/v3/order", [...limit, ["newClientOrderId", "lim-2"]], { signer })
      yield* exchange.control.setPrice("BTCUSDT", "39990.00")
      yield* waitFor("four reports", () => reports.length >= 4)
      expect(reports.map((r) => [r.clientOrderId, r.origClientOrderId, r.executionType, r.status])).toEqual([
        ["lim-1", undefined, "NEW", "NEW"],
        ["lim-1-cancel", "lim-1", "CANCELED", "CANCELED"],
        ["lim-2", undefined, "NEW", "NEW"],
        ["lim-2", undefined, "TRADE", "FILLED"]
      ])
      same(reports[0]!.price, "40000")
      same(reports[0]!.quantity, "0.002")
      same(reports[3]!.lastQuantity, "0.002")
      same(reports[3]!.lastPrice, "40000")
      same(reports[3]!.cumulativeQuote, "80")
      expect(subscribed).toEqual([false])
    }))

  it.scopedLive("a refused subscription fails the make with Binance's code: bad key, bad signature, stale timestamp", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const signer = yield* hmac
      const badKey = yield* Effect.flip(start({ wsApiUrl: exchange.wsApiUrl, signer, apiKey: "nobody" }))
      expect(badKey).toMatchObject({ _tag: "UserDataStreamError", wsApiUrl: exchange.wsApiUrl, code: -2015 })
      expect(badKey.message).toContain(exchange.wsApiUrl)
      expect(badKey.message).not.toContain(hmacKey.secret)

      const wrong = yield* Effect.orDie(hmacSigner(Redacted.make("another-secret")))
      const badSignature = yield* Effect.flip(start({ wsApiUrl: exchange.wsApiUrl, signer: wrong, apiKey: hmacKey.apiKey }))
      expect(badSignature).toMatchObject({ code: -1022, msg: "Signature for this request is not valid." })

      const stale = yield* Effect.flip(start({ wsApiUrl: exchange.wsApiUrl, ...withKey(signer), timeOffset: () => -60_000 }))
      expect(stale.code).toBe(-1021)
      expect(yield* exchange.control.userDataSubscriptions).toBe(0)
    }))

  it.scopedLive("no server: the make fails with the URL, within the connect timeout", () =>
    Effect.gen(function*() {
      const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
      yield* Effect.async<void>((resume) => void server.once("listening", () => resume(Effect.void)))
      const port = (server.address() as { port: number }).port
      yield* Effect.promise(() => new Promise((resolve) => server.close(resolve)))
      const url = `ws://127.0.0.1:${port}/ws-api/v3`
      const error = yield* Effect.flip(start({ wsApiUrl: url, ...withKey(yield* hmac), connectTimeout: "2 seconds" }))
      expect(error._tag).toBe("UserDataStreamError")
      expect(error.message).toContain(url)
    }))

  it.scopedLive("fault: the sockets drop mid-fill; it reconnects, resubscribes (resumed), and the rest of the fill arrives", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const { handling, reports, stream, subscribed } = yield* start({
        wsApiUrl: exchange.wsApiUrl,
        ...withKey(yield* hmac),
        reconnectMin: "20 millis"
      }, 15)
      yield* exchange.control.fillMarketInParts(2)
      yield* exchange.control.dropUserDataOnPartialFill
      yield* signed(exchange.restUrl, "POST", "/api/v3/order", market("0.00200", "half"))
      yield* waitFor("the resubscription", () => subscribed.length === 2)
      expect(subscribed).toEqual([false, true])
      expect(yield* stream.reconnects).toBe(1)
      expect(yield* stream.connected).toBe(true)
      expect(yield* exchange.control.userDataSubscriptions).toBe(1)

      yield* exchange.control.setPrice("BTCUSDT", "42010.00")
      yield* waitFor("the last part", () => reports.some((r) => r.status === "FILLED"))
      expect(reports.map((r) => [r.executionType, r.status])).toEqual([
        ["NEW", "NEW"],
        ["TRADE", "PARTIALLY_FILLED"],
        ["TRADE", "FILLED"]
      ])
      expect(handling.most).toBe(1)
      same(reports[2]!.lastPrice, "42010")
      same(reports[2]!.cumulativeQuantity, "0.002")
    }))

  it.scopedLive("a malformed frame is counted and skipped; eventStreamTerminated resubscribes", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const { reports, stream, subscribed } = yield* start({
        wsApiUrl: exchange.wsApiUrl,
        ...withKey(yield* hmac),
        reconnectMin: "20 millis"
      })
      yield* exchange.control.pushUserDataEvent({ e: "executionReport", s: "BTCUSDT" })
      yield* exchange.control.pushUserDataEvent({ e: "balanceUpdate", E: 1, a: "BTC", d: "1.0", T: 1 })
      yield* signed(exchange.restUrl, "POST", "/api/v3/order", market("0.001", "after-bad"))
      yield* waitFor("the reports after it", () => reports.length >= 2)
      expect(yield* stream.malformed).toBe(1)
      expect(reports.map((r) => r.clientOrderId)).toEqual(["after-bad", "after-bad"])

      yield* exchange.control.pushUserDataEvent({ e: "eventStreamTerminated", E: 2 })
      yield* waitFor("the resubscription", () => subscribed.length === 2)
      expect(subscribed).toEqual([false, true])
      expect(yield* stream.reconnects).toBe(1)
    }))


  it.scopedLive("closing the scope closes the socket", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const signer = yield* hmac
      yield* Effect.scoped(Effect.gen(function*() {
        yield* start({ wsApiUrl: exchange.wsApiUrl, ...withKey(signer) })
        expect(yield* exchange.control.userDataSubscriptions).toBe(1)
      }))
      // the server sees the close a little later
      const deadline = Date.now() + 5_000
      while ((yield* exchange.control.userDataSubscriptions) > 0 && Date.now() < deadline) yield* Effect.sleep("5 millis")
      expect(yield* exchange.control.userDataSubscriptions).toBe(0)
    }))
})
