/**
 * The simulator's trading side put together: the account and its matching
 * engine, the REST and WebSocket APIs over it, the faults, and the control
 * object tests (and `trading-bus simulate`) drive it with.
 */
import { BigDecimal, type Clock, Effect } from "effect"
import type { WebSocket } from "ws"
import type { SimulatorKey } from "./Auth.js"
import { noFaults } from "./Faults.js"
import { makeMatching } from "./Matching.js"
import { accountPosition, executionReport } from "./OrderJson.js"
import type { WalkSpec } from "./RandomWalk.js"
import type { RestRequest, RestResponse } from "./Server.js"
import { fixed8, rulesFor } from "./SymbolRules.js"
import { makeTradingApi } from "./TradingApi.js"
import { makeUserDataApi } from "./UserDataApi.js"

/** An order as the exchange holds it, amounts as Binance's 8-decimal strings. */
export interface SimulatedOrder {
  readonly symbol: string
  readonly orderId: number
  readonly clientOrderId: string
  readonly side: "BUY" | "SELL"
  readonly type: "LIMIT" | "MARKET"
  readonly status: "NEW" | "PARTIALLY_FILLED" | "FILLED" | "CANCELED" | "EXPIRED"
  readonly price: string
  readonly origQty: string
  readonly executedQty: string
}

/** Tells the running simulator to misbehave, and shows what it holds. Faults apply to the next requests. */
export interface SimulatorControl {
  /** Drop the next `count` new orders unseen: the connection closes and nothing is placed. */
  readonly dropOrderRequests: (count?: number) => Effect.Effect<void>
  /** Accept the next `count` new orders, then close the connection without answering. */
  readonly dropOrderResponses: (count?: number) => Effect.Effect<void>
  /** Accept the next `count` new orders, then answer `status` (default 503) with -1007: execution status unknown. */
  readonly failAfterAccepting: (count?: number, status?: number) => Effect.Effect<void>
  /** Moves the server's clock by `millis` (negative: behind) from the real one. */
  readonly skewClock: (millis: number) => Effect.Effect<void>
  /** Refuse the next `count` REST requests with 429 (or 418) and `Retry-After: retryAfterSeconds`. */
  readonly rateLimit: (options?: {
    readonly count?: number
    readonly retryAfterSeconds?: number
    readonly status?: 429 | 418
  }) => Effect.Effect<void>
  /** Fill MARKET orders in `parts` parts: the first at once, one more at each later price. 1 restores. */
  readonly fillMarketInParts: (parts: number) => Effect.Effect<void>
  /** Close every user-data socket right after the next partial fill is reported. */
  readonly dropUserDataOnPartialFill: Effect.Effect<void>
  /** Close every user-data socket now. */
  readonly dropUserData: Effect.Effect<void>
  /** Push `event` as is to every user-data subscription: a malformed or unusual event (eventStreamTerminated). */
  readonly pushUserDataEvent: (event: unknown) => Effect.Effect<void>
  /** A trade at `price` (the walk moving there): resting orders it crosses fill. */
  readonly setPrice: (symbol: string, price: string) => Effect.Effect<void>
  /** Every order ever accepted, oldest first. */
  readonly orders: Effect.Effect<ReadonlyArray<SimulatedOrder>>
  readonly balances: Effect.Effect<Readonly<Record<string, { readonly free: string; readonly locked: string }>>>
  readonly userDataSubscriptions: Effect.Effect<number>
}

export interface TradingOptions {
  readonly specs: ReadonlyArray<WalkSpec>
  readonly keys: ReadonlyArray<SimulatorKey>
  readonly balances: Readonly<Record<string, string>>
  readonly commissionRate: string
  readonly clock: Clock.Clock
  readonly marketRest: (url: URL) => Effect.Effect<RestResponse | undefined>
}

export const makeTrading = (options: TradingOptions) => {
  const faults = noFaults()
  const serverTime = () => options.clock.unsafeCurrentTimeMillis() + faults.clockSkewMillis
  const userData = makeUserDataApi({ keys: options.keys, serverTime })
  let cancelId: string | undefined
  let executionId = 1
  const rules = options.specs.map(rulesFor)
  const matching = makeMatching({
    rules,
    balances: options.balances,
    commissionRate: BigDecimal.unsafeFromString(options.commissionRate),
    onUpdate: (order, execution, trade, time) => {
      userData.push(executionReport(order, execution, trade, time, executionId++, execution === "CANCELED" ? cancelId : undefined))
      if (trade !== undefined) {
        const r = matching.rules(order.symbol)!
        const all = matching.balances()
        userData.push(accountPosition(time, [r.baseAsset, r.quoteAsset].map((a) => [a, all.get(a)!] as const)))
      }
      if (order.status === "PARTIALLY_FILLED" && faults.dropUserDataOnPartialFill) {
        faults.dropUserDataOnPartialFill = false
        userData.dropAll()
      }
    }
  })
  const start = serverTime()
  for (const spec of options.specs) {
    const ticks = BigInt(Math.max(1, Math.round(spec.startPrice * 10 ** spec.priceDecimals)))
    matching.onPrice(spec.symbol, BigDecimal.make(ticks, spec.priceDecimals), start)
  }
  const rest: (request: RestRequest) => Effect.Effect<RestResponse | undefined> = makeTradingApi({
    matching,
    keys: options.keys,
    faults,
    serverTime,
    withCancelId: (id, f) => {
      cancelId = id
      try {
        return f()
      } finally {
        cancelId = undefined
      }
    },
    marketRest: options.marketRest
  })

  const control: SimulatorControl = {
    dropOrderRequests: (count = 1) => Effect.sync(() => void (faults.dropOrderRequests = count)),
    dropOrderResponses: (count = 1) => Effect.sync(() => void (faults.dropOrderResponses = count)),
    failAfterAccepting: (count = 1, status = 503) =>
      Effect.sync(() => {
        faults.failAfterAccept = count
        faults.failStatus = status
      }),
    skewClock: (millis) => Effect.sync(() => void (faults.clockSkewMillis = millis)),
    rateLimit: ({ count = 1, retryAfterSeconds = 1, status = 429 } = {}) =>
      Effect.sync(() => {
        faults.rateLimited = count
        faults.retryAfterSeconds = retryAfterSeconds
        faults.rateLimitStatus = status
      }),
    fillMarketInParts: (parts) => Effect.sync(() => void (faults.marketParts = Math.max(1, Math.floor(parts)))),
    dropUserDataOnPartialFill: Effect.sync(() => void (faults.dropUserDataOnPartialFill = true)),
    dropUserData: Effect.sync(() => userData.dropAll()),
    pushUserDataEvent: (event) => Effect.sync(() => userData.push(event)),
    setPrice: (symbol, price) =>
      Effect.sync(() => matching.onPrice(symbol.toUpperCase(), BigDecimal.unsafeFromString(price), serverTime())),
    orders: Effect.sync(() =>
      matching.orders().map((o) => ({
        symbol: o.symbol,
        orderId: o.orderId,
        clientOrderId: o.clientOrderId,
        side: o.side,
        type: o.type,
        status: o.status,
        price: fixed8(o.price),
        origQty: fixed8(o.origQty),
        executedQty: fixed8(o.executedQty)
      }))
    ),
    balances: Effect.sync(() =>
      Object.fromEntries([...matching.balances()].map(([a, b]) => [a, { free: fixed8(b.free), locked: fixed8(b.locked) }]))
    ),
    userDataSubscriptions: Effect.sync(() => userData.subscriptions())
  }

  return {
    rest,
    onWsApi: (ws: WebSocket) => userData.connect(ws),
    /** A frame of the walk: its last price, as a trade the resting orders may match. */
    onPrice: (symbol: string, price: string) => matching.onPrice(symbol, BigDecimal.unsafeFromString(price), serverTime()),
    control
  }
}
