/**
 * The simulator's trading REST API: `exchangeInfo`, `time`, and the signed
 * `order` (POST, GET, DELETE), `openOrders` and `account` endpoints, with
 * Binance's checks, errors, weights and `X-MBX-USED-WEIGHT-1M` headers,
 * and the faults it was told to inject.
 */
import { BigDecimal, Effect } from "effect"
import { type ApiError, apiError, badSignature, checkTiming, findKey, isApiError, mandatory, restPayload, signatureValid, type SimulatorKey } from "./Auth.js"
import type { FaultState } from "./Faults.js"
import type { Matching, OrderType, Side, TimeInForce } from "./Matching.js"
import { ackJson, cancelJson, fullJson, queryJson, resultJson, tradeJson } from "./OrderJson.js"
import type { RestRequest, RestResponse } from "./Server.js"
import { failedFilter, fixed8, symbolJson } from "./SymbolRules.js"

const json = (status: number, body: unknown): RestResponse => ({ status, body: JSON.stringify(body) })
const error = (e: ApiError): RestResponse => json(e.status, { code: e.code, msg: e.msg })
const illegal = (name: string, range: string) =>
  apiError(400, -1100, `Illegal characters found in parameter '${name}'; legal range is '${range}'.`)
const decimalRange = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
const noSuchOrder = apiError(400, -2013, "Order does not exist.")

const weights: Readonly<Record<string, number>> = {
  "GET /api/v3/exchangeInfo": 20,
  "GET /api/v3/time": 1,
  "GET /api/v3/ping": 1,
  "GET /api/v3/klines": 2,
  "POST /api/v3/order": 1,
  "GET /api/v3/order": 4,
  "DELETE /api/v3/order": 1,
  "GET /api/v3/account": 20,
  "GET /api/v3/myTrades": 5
}

const randomId = () => {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
  let id = ""
  for (let i = 0; i < 22; i++) id += chars[Math.floor(Math.random() * chars.length)]
  return id
}

export interface TradingApiOptions {
  readonly matching: Matching
  readonly keys: ReadonlyArray<SimulatorKey>
  readonly faults: FaultState
  /** The server's clock, skew included. */
  readonly serverTime: () => number
  /** Cancels' own client ids by order, for the `executionReport` a cancel sends. */
  readonly withCancelId: <A>(cancelClientOrderId: string, f: () => A) => A
  /** The market-data endpoints (klines, ping), answered as before. */
  readonly marketRest: (url: URL) => Effect.Effect<{ readonly status: number; readonly body: string } | undefined>
}

export const makeTradingApi = (options: TradingApiOptions) => {
  const { faults, matching } = options
  let minute = -1
  let used = 0

  /** A signed request's parameters once key, signature and timing are checked. */
  const authenticate = (req: RestRequest, params: URLSearchParams): ApiError | undefined => {
    const key = findKey(options.keys, req.apiKey)
    if (isApiError(key)) return key
    const { payload, signature } = restPayload(req.rawQuery, req.body)
    if (signature === undefined || signature === "") return mandatory("signature")
    if (!signatureValid(key, payload, signature)) return badSignature
    return checkTiming(params.get("timestamp") ?? undefined, params.get("recvWindow") ?? undefined, options.serverTime())
  }

  const symbolOf = (params: URLSearchParams) => {
    const symbol = params.get("symbol")
    if (symbol === null || symbol === "") return mandatory("symbol")
    return matching.rules(symbol) ?? apiError(400, -1121, "Invalid symbol.")
  }

  const decimal = (params: URLSearchParams, name: string): BigDecimal.BigDecimal | ApiError | undefined => {
    const raw = params.get(name)
    if (raw === null || raw === "") return undefined
    if (!new RegExp(decimalRange).test(raw)) return illegal(name, decimalRange)
    return BigDecimal.unsafeFromString(raw)
  }

  const newOrder = (params: URLSearchParams): RestResponse => {
    const rules = symbolOf(params)
    if (isApiError(rules)) return error(rules)
    const side = params.get("side")
    if (side === null || side === "") return error(mandatory("side"))
    if (side !== "BUY" && side !== "SELL") return error(apiError(400, -1117, "Invalid side."))
    const type = params.get("type")
    if (type === null || type === "") return error(mandatory("type"))
    if (type !== "LIMIT" && type !== "MARKET") return error(apiError(400, -1116, "Invalid orderType."))
    const tif = params.get("timeInForce")
    if (type === "LIMIT" && (tif === null || tif === "")) return error(mandatory("timeInForce"))
    if (type === "MARKET" && tif !== null) {
      return error(apiError(400, -1106, "Parameter 'timeInForce' sent when not required."))
    }
    if (tif !== null && tif !== "GTC" && tif !== "IOC" && tif !== "FOK") {
      return error(apiError(400, -1115, "Invalid timeInForce."))
    }
    const quantity = decimal(params, "quantity")
    if (isApiError(quantity)) return error(quantity)
    if (quantity === undefined) return error(mandatory("quantity"))
    const price = decimal(params, "price")
    if (isApiError(price)) return error(price)
    if (type === "LIMIT" && price === undefined) return error(mandatory("price"))
    if (type === "MARKET" && price !== undefined) {
      return error(apiError(400, -1106, "Parameter 'price' sent when not required."))
    }
    const clientOrderId = params.get("newClientOrderId") ?? randomId()
    if (!/^[a-zA-Z0-9-_]{1,36}$/.test(clientOrderId)) return error(illegal("newClientOrderId", "^[a-zA-Z0-9-_]{1,36}$"))
    const respType = params.get("newOrderRespType") ?? "FULL"
    if (respType !== "ACK" && respType !== "RESULT" && respType !== "FULL") {
      return error(illegal("newOrderRespType", "^(ACK|RESULT|FULL)$"))
    }
    const last = matching.price(rules.symbol)!
    const filter = failedFilter(rules, { type, quantity, price }, last)
    if (filter !== undefined) return error(apiError(400, -1013, `Filter failure: ${filter}`))
    if (faults.dropOrderRequests > 0) {
      faults.dropOrderRequests--
      return { status: 0, body: "", drop: true }
    }
    const now = options.serverTime()
    const order = matching.place({
      symbol: rules.symbol,
      clientOrderId,
      side: side as Side,
      type: type as OrderType,
      timeInForce: (tif ?? "GTC") as TimeInForce,
      quantity,
      price
    }, now, faults.marketParts)
    if (!("orderId" in order)) return error({ status: 400, ...order })
    // accepted: from here a fault loses the answer, never the order
    if (faults.dropOrderResponses > 0) {
      faults.dropOrderResponses--
      return { status: 0, body: "", drop: true }
    }
    if (faults.failAfterAccept > 0) {
      faults.failAfterAccept--
      return json(faults.failStatus, {
        code: -1007,
        msg: "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
      })
    }
    const trades = order.trades.filter((t) => t.time === now)
    const answer = json(
      200,
      respType === "ACK"
        ? ackJson(order, now)
        : respType === "RESULT"
        ? resultJson(order, now)
        : fullJson(order, now, trades)
    )
    if (faults.holdOrderResponses > 0) {
      faults.holdOrderResponses--
      return { ...answer, delayMillis: faults.holdMillis }
    }
    return answer
  }

  const orderOf = (params: URLSearchParams) => {
    const rules = symbolOf(params)
    if (isApiError(rules)) return rules
    const orderId = params.get("orderId")
    const clientOrderId = params.get("origClientOrderId")
    if ((orderId === null || orderId === "") && (clientOrderId === null || clientOrderId === "")) {
      return mandatory("orderId")
    }
    if (orderId !== null && orderId !== "") {
      if (!/^[0-9]{1,20}$/.test(orderId)) return illegal("orderId", "^[0-9]{1,20}$")
      const order = matching.find(rules.symbol, { orderId: Number(orderId) })
      if (order === undefined) return noSuchOrder
      // both sent: the id's order must carry that client id
      if (clientOrderId !== null && clientOrderId !== "" && order.clientOrderId !== clientOrderId) {
        return apiError(400, -2039, "Client order ID is not correct for this order ID.")
      }
      return order
    }
    return matching.find(rules.symbol, { clientOrderId: clientOrderId! }) ?? noSuchOrder
  }

  const signed = (req: RestRequest, route: string, params: URLSearchParams): RestResponse => {
    const denied = authenticate(req, params)
    if (denied !== undefined) return error(denied)
    switch (route) {
      case "POST /api/v3/order":
        return newOrder(params)
      case "GET /api/v3/order": {
        const order = orderOf(params)
        return isApiError(order) ? error(order) : json(200, queryJson(order))
      }
      case "DELETE /api/v3/order": {
        const order = orderOf(params)
        // cancelling what does not exist, or no longer can be, is the matching engine's "Unknown order sent."
        if (isApiError(order) && order.code !== -2013) return error(order)
        const cancelId = params.get("newClientOrderId") ?? randomId()
        const now = options.serverTime()
        if (isApiError(order) || !options.withCancelId(cancelId, () => matching.cancel(order, now))) {
          return error(apiError(400, -2011, "Unknown order sent."))
        }
        return json(200, cancelJson(order, cancelId, now))
      }
      case "GET /api/v3/openOrders": {
        const symbol = params.get("symbol")
        if (symbol !== null && symbol !== "" && matching.rules(symbol) === undefined) {
          return error(apiError(400, -1121, "Invalid symbol."))
        }
        return json(200, matching.openOrders(symbol || undefined).map(queryJson))
      }
      case "GET /api/v3/myTrades": {
        // by orderId only (Binance's form the broker uses): the trades of that order, oldest first
        const order = orderOf(params)
        if (isApiError(order)) return order.code === -2013 ? json(200, []) : error(order)
        return json(200, order.trades.map((t) => tradeJson(order, t)))
      }
      default: {
        const omitZero = params.get("omitZeroBalances") === "true"
        const balances = [...matching.balances()].filter(([, b]) =>
          !omitZero || !BigDecimal.isZero(b.free) || !BigDecimal.isZero(b.locked)
        )
        return json(200, {
          makerCommission: 10,
          takerCommission: 10,
          buyerCommission: 0,
          sellerCommission: 0,
          commissionRates: { maker: "0.00100000", taker: "0.00100000", buyer: "0.00000000", seller: "0.00000000" },
          canTrade: true,
          canWithdraw: false,
          canDeposit: false,
          brokered: false,
          requireSelfTradePrevention: false,
          preventSor: false,
          updateTime: options.serverTime(),
          accountType: "SPOT",
          balances: balances.map(([asset, b]) => ({ asset, free: fixed8(b.free), locked: fixed8(b.locked) })),
          permissions: ["SPOT"],
          uid: 1
        })
      }
    }
  }

  const route = (req: RestRequest): Effect.Effect<RestResponse | undefined> => {
    const key = `${req.method} ${req.url.pathname}`
    const params = new URLSearchParams(req.body)
    // a parameter in both the query string and the body: the query string's wins
    for (const [name, value] of req.url.searchParams) params.set(name, value)
    switch (key) {
      case "GET /api/v3/time":
        return Effect.succeed(json(200, { serverTime: options.serverTime() }))
      case "GET /api/v3/exchangeInfo": {
        const wanted = params.get("symbol")
        if (wanted !== null && matching.rules(wanted) === undefined) {
          return Effect.succeed(error(apiError(400, -1121, "Invalid symbol.")))
        }
        const symbols = matching.allRules().filter((r) => wanted === null || r.symbol === wanted)
        return Effect.succeed(json(200, {
          timezone: "UTC",
          serverTime: options.serverTime(),
          rateLimits: [
            { rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 6000 },
            { rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: 100 },
            { rateLimitType: "ORDERS", interval: "DAY", intervalNum: 1, limit: 200000 }
          ],
          exchangeFilters: [],
          symbols: symbols.map(symbolJson)
        }))
      }
      case "POST /api/v3/order":
      case "GET /api/v3/order":
      case "DELETE /api/v3/order":
      case "GET /api/v3/openOrders":
      case "GET /api/v3/account":
      case "GET /api/v3/myTrades":
        return Effect.sync(() => signed(req, key, params))
      default:
        return req.method === "GET" ? options.marketRest(req.url) : Effect.succeed(undefined)
    }
  }

  /** Every request: refused while rate limited, otherwise answered with the weight used this minute. */
  return (req: RestRequest): Effect.Effect<RestResponse | undefined> =>
    Effect.suspend((): Effect.Effect<RestResponse | undefined> => {
      const now = options.serverTime()
      if (Math.floor(now / 60_000) !== minute) {
        minute = Math.floor(now / 60_000)
        used = 0
      }
      const route_ = `${req.method} ${req.url.pathname}`
      used += route_ === "GET /api/v3/openOrders" ? (req.url.searchParams.has("symbol") ? 6 : 80) : weights[route_] ?? 1
      const headers = { "x-mbx-used-weight-1m": String(used) }
      if (faults.rateLimited > 0) {
        faults.rateLimited--
        return Effect.succeed({
          status: faults.rateLimitStatus,
          body: JSON.stringify({
            code: -1003,
            msg: faults.rateLimitStatus === 418
              ? `Way too much request weight used; IP banned until ${now + faults.retryAfterSeconds * 1000}. Please use WebSocket Streams for live updates to avoid bans.`
              : "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
          }),
          headers: { ...headers, "retry-after": String(faults.retryAfterSeconds) }
        })
      }
      return Effect.map(route(req), (response) =>
        response === undefined ? undefined : { ...response, headers: { ...headers, ...response.headers } })
    })
}
