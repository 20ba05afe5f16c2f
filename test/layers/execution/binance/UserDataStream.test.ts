import { NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Logger, LogLevel, Redacted } from "effect"
import { WebSocketServer } from "ws"
import type { ExecutionReport } from "../../../../src/layers/execution/internal/binance/ExecutionReport.js"
import { hmacSigner, type Signer } from "../../../../src/layers/execution/internal/binance/signing.js"
import {
  makeUserDataStream,
  type UserDataStreamOptions
} from "../../../../src/layers/execution/internal/binance/UserDataStream.js"
import { ed25519, ed25519Key, hmac, hmacKey, signed, startExchange, waitFor } from "../../../support/simulatorTrading.js"

const dec = BigDecimal.unsafeFromString
/** Exact decimal equality, whatever the scale. */
const same = (a: BigDecimal.BigDecimal | undefined, b: string) =>
  expect(a !== undefined && BigDecimal.equals(a, dec(b)), `${a === undefined ? "undefined" : BigDecimal.format(a)} = ${b}`)
    .toBe(true)

/** A stream on `options`, recording what it hands over. */
const start = (
  options: Omit<UserDataStreamOptions, "apiKey"> & { readonly apiKey: string },
  /** Each handler call takes this long: calls must still come one at a time, in order. */
  handlerMillis = 0
) =>
  Effect.gen(function*() {
    const reports: Array<ExecutionReport> = []
    const subscribed: Array<boolean> = []
    const handling = { now: 0, most: 0 }
    const handler = (record: () => void) =>
      Effect.gen(function*() {
        handling.most = Math.max(handling.most, ++handling.now)
        if (handlerMillis > 0) yield* Effect.sleep(handlerMillis)
        record()
        handling.now--
      })
    const stream = yield* makeUserDataStream({ ...options, apiKey: Redacted.make(options.apiKey) }, {
      onReport: (report) => handler(() => reports.push(report)),
      onSubscribed: ({ resumed }) => handler(() => subscribed.push(resumed))
    })
    return { stream, reports, subscribed, handling }
  }).pipe(
    Effect.provide(NodeSocket.layerWebSocketConstructor),
    Logger.withMinimumLogLevel(LogLevel.None)
  )

const withKey = (signer: Signer) => ({ signer, apiKey: signer.keyType === "HMAC" ? hmacKey.apiKey : ed25519Key.apiKey })

/**
 * A WebSocket API on 127.0.0.1 that answers each request as `answer` says (no answer: `undefined`),
 * `connection` counting from 0; it records when each connection came.
 */
const fakeApi = (
  answer: (
    request: { readonly id: string; readonly method: string },
    connection: number,
    /** Closes this connection abruptly once the answer is sent. */
    drop: () => void
  ) => object | undefined
) =>
  Effect.gen(function*() {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
    yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
    yield* Effect.async<void>((resume) => void server.once("listening", () => resume(Effect.void)))
    const connections: Array<number> = []
    server.on("connection", (ws) => {
      const connection = connections.push(Date.now()) - 1
      ws.on("message", (data) => {
        const request = JSON.parse(String(data))
        let dropping = false
        const reply = answer(request, connection, () => (dropping = true))
        if (reply !== undefined) ws.send(JSON.stringify({ id: request.id, ...reply }))
        if (dropping) setTimeout(() => ws.terminate(), 5)
      })
    })
    return {
      url: `ws://127.0.0.1:${(server.address() as { port: number }).port}/ws-api/v3`,
      connections,
      dropAll: () => server.clients.forEach((ws) => ws.terminate())
    }
  })

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

  it.scopedLive("a silent server is replaced; the ping requests keep a quiet one alive", () =>
    Effect.gen(function*() {
      let answerPings = true
      const server = yield* fakeApi((request) =>
        request.method === "ping"
          ? answerPings ? { status: 200, result: {} } : undefined
          : { status: 200, result: { subscriptionId: 0 } }
      )
      const { stream, subscribed } = yield* start({
        wsApiUrl: server.url,
        ...withKey(yield* hmac),
        silenceTimeout: "300 millis",
        reconnectMin: "20 millis"
      })
      const quietUntil = Date.now() + 1_000
      yield* waitFor("a quiet second", () => Date.now() > quietUntil, 2_000)
      expect(yield* stream.reconnects).toBe(0)
      answerPings = false
      yield* waitFor("the replacement", () => subscribed.length >= 2, 3_000)
      expect(subscribed.slice(0, 2)).toEqual([false, true])
      expect(server.connections.length).toBeGreaterThanOrEqual(2)
    }))

  it.scopedLive("refused resubscriptions back off, doubling up to the max, until one is accepted", () =>
    Effect.gen(function*() {
      const server = yield* fakeApi((request, connection) =>
        request.method === "ping" || connection === 0 || connection >= 4
          ? { status: 200, result: request.method === "ping" ? {} : { subscriptionId: 0 } }
          : { status: 400, error: { code: -1021, msg: "Timestamp for this request is outside of the recvWindow." } }
      )
      const { stream, subscribed } = yield* start({
        wsApiUrl: server.url,
        ...withKey(yield* hmac),
        reconnectMin: "20 millis",
        reconnectMax: "60 millis"
      })
      server.dropAll()
      yield* waitFor("the accepted resubscription", () => subscribed.length === 2)
      expect(yield* stream.reconnects).toBe(1)
      expect(yield* stream.connected).toBe(true)
      const gaps = server.connections.slice(1).map((at, k) => at - server.connections[k]!)
      expect(gaps).toHaveLength(4)
      // waits of 20, 40, 60 (capped), 60 ms; a timer may fire a millisecond early
      ;[20, 40, 60, 60].forEach((wait, k) => expect(gaps[k]).toBeGreaterThanOrEqual(wait - 2))
      expect(gaps[3]).toBeLessThan(1_000)
    }))

  it.scopedLive("connections dropped right after subscribing back off too: the wait resets only after one that lasted", () =>
    Effect.gen(function*() {
      const server = yield* fakeApi((request, connection, drop) => {
        if (request.method !== "ping" && connection >= 1 && connection <= 3) drop()
        return { status: 200, result: request.method === "ping" ? {} : { subscriptionId: 0 } }
      })
      const { stream, subscribed } = yield* start({
        wsApiUrl: server.url,
        ...withKey(yield* hmac),
        reconnectMin: "20 millis",
        reconnectMax: "60 millis"
      })
      server.dropAll()
      yield* waitFor("five subscriptions", () => subscribed.length === 5)
      expect(subscribed).toEqual([false, true, true, true, true])
      expect(yield* stream.reconnects).toBe(4)
      const gaps = server.connections.slice(1).map((at, k) => at - server.connections[k]!)
      ;[20, 40, 60, 60].forEach((wait, k) => expect(gaps[k]).toBeGreaterThanOrEqual(wait - 2))
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
