/**
 * Executes orders on Binance Spot (or anything speaking its REST API, such
 * as the simulated exchange), built never to place an order twice: our
 * `clientOrderId` is sent as `newClientOrderId`, and a send whose outcome is
 * UNKNOWN (timeout, dropped connection, 5XX, -1007) is followed by queries
 * by `origClientOrderId`; the order is placed again only once the exchange
 * has said, for longer than `notFoundGrace`, that it does not have it.
 */
import type { HttpClient } from "@effect/platform"
import { BigDecimal, Data, Deferred, Duration, Effect, Either, Exit, FiberId, Layer, type Redacted, Schema } from "effect"
import { formatDecimal } from "../../domain/Decimal.js"
import type { Fill, Order } from "../../domain/Order.js"
import { BrokerError } from "../../domain/TradingErrors.js"
import { Broker } from "../../services/Broker.js"
import { ExchangeInfo, parseExchangeInfo, roundOrder, type SymbolFilters } from "./internal/binance/Filters.js"
import { makeRestClient, type Outcome, type RestClient } from "./internal/binance/RestClient.js"
import type { Signer } from "./internal/binance/signing.js"

export interface BinanceBrokerOptions {
  /** As "https://api.binance.com" or "https://testnet.binance.vision"; no trailing slash. */
  readonly restUrl: string
  readonly apiKey: Redacted.Redacted<string>
  /** From `hmacSigner` or `ed25519Signer` (signing.ts). */
  readonly signer: Signer
  /** Default 5000 ms. */
  readonly recvWindow?: number
  /** A request not answered within it is UNKNOWN. Default 10 seconds. */
  readonly requestTimeout?: Duration.DurationInput
  /** How long after an UNKNOWN send a -2013 still means "not known yet" rather than "not placed". Default 10 s. */
  readonly notFoundGrace?: Duration.DurationInput
  /** First wait between queries of an order in doubt or still open; doubles up to `maxQueryInterval`. Default 200 ms. */
  readonly queryInterval?: Duration.DurationInput
  /** Default 5 seconds. */
  readonly maxQueryInterval?: Duration.DurationInput
  /** Server-time offset refreshed this often. Default 5 minutes. */
  readonly timeSyncInterval?: Duration.DurationInput
}

/** The broker could not start: the exchange unreachable, or its answers unusable. */
export class BinanceBrokerStartError extends Data.TaggedError("BinanceBrokerStartError")<{
  readonly restUrl: string
  readonly reason: string
}> {
  override get message() {
    return `cannot start the Binance broker at ${this.restUrl}: ${this.reason}`
  }
}

const Dec = Schema.BigDecimal
const OrderAnswer = Schema.Struct({
  orderId: Schema.Number,
  status: Schema.String,
  executedQty: Dec,
  cummulativeQuoteQty: Dec,
  transactTime: Schema.optional(Schema.Number),
  updateTime: Schema.optional(Schema.Number),
  fills: Schema.optional(Schema.Array(Schema.Struct({
    price: Dec,
    qty: Dec,
    commission: Dec,
    commissionAsset: Schema.String,
    tradeId: Schema.Number
  })))
})
type OrderAnswer = typeof OrderAnswer.Type
const decodeAnswer = Schema.decodeUnknownEither(OrderAnswer)
const Account = Schema.Struct({ commissionRates: Schema.Struct({ taker: Dec }) })

const open = new Set(["NEW", "PARTIALLY_FILLED", "PENDING_NEW"])
/** Codes that mean this order was refused (filters, balance, parameters), not that something is broken. */
const isRejection = (code: number) => code === -2010 || code === -1013 || (code <= -1100 && code >= -1199)

/** The fill an order's answer describes: average price, fee in the quote asset. */
const toFill = (
  order: Order,
  answer: OrderAnswer,
  filters: SymbolFilters,
  takerRate: BigDecimal.BigDecimal,
  filledAt: number
): Fill => {
  const fills = answer.fills ?? []
  let fee = BigDecimal.make(0n, 0)
  let seenQuote = BigDecimal.make(0n, 0)
  for (const f of fills) {
    seenQuote = BigDecimal.sum(seenQuote, BigDecimal.multiply(f.qty, f.price))
    if (f.commissionAsset === filters.quoteAsset) fee = BigDecimal.sum(fee, f.commission)
    else if (f.commissionAsset === filters.baseAsset) fee = BigDecimal.sum(fee, BigDecimal.multiply(f.commission, f.price))
  }
  // parts the answer has no fills for (an order found by a query): the account's taker rate on their notional
  const unseen = BigDecimal.subtract(answer.cummulativeQuoteQty, seenQuote)
  if (BigDecimal.isPositive(unseen)) fee = BigDecimal.sum(fee, BigDecimal.multiply(unseen, takerRate))
  const price = fills.length === 1
    ? fills[0]!.price
    : BigDecimal.round(BigDecimal.unsafeDivide(answer.cummulativeQuoteQty, answer.executedQty), { scale: 8, mode: "half-even" })
  return {
    clientOrderId: order.clientOrderId,
    tradeId: fills.length > 0 ? fills.map((f) => f.tradeId).join("+") : `order-${answer.orderId}`,
    symbol: order.symbol,
    side: order.side,
    type: order.type,
    quantity: BigDecimal.normalize(answer.executedQty),
    price: BigDecimal.normalize(price),
    fee: BigDecimal.normalize(BigDecimal.round(fee, { scale: 8, mode: "half-even" })),
    status: answer.status === "FILLED" ? "FILLED" : "PARTIALLY_FILLED",
    orderCreatedAt: order.createdAt,
    filledAt
  }
}

const make = (options: BinanceBrokerOptions) =>
  Effect.gen(function*() {
    const requestTimeout = Duration.decode(options.requestTimeout ?? "10 seconds")
    const grace = Duration.toMillis(Duration.decode(options.notFoundGrace ?? "10 seconds"))
    const firstInterval = Duration.toMillis(Duration.decode(options.queryInterval ?? "200 millis"))
    const maxInterval = Duration.toMillis(Duration.decode(options.maxQueryInterval ?? "5 seconds"))
    const startError = (reason: string) => new BinanceBrokerStartError({ restUrl: options.restUrl, reason })
    const rest: RestClient = yield* makeRestClient({
      restUrl: options.restUrl,
      apiKey: options.apiKey,
      signer: options.signer,
      recvWindow: options.recvWindow ?? 5000,
      requestTimeout
    })
    if (!(yield* rest.syncTime)) return yield* startError("GET /api/v3/time failed")
    const ok = (outcome: Outcome, what: string): Effect.Effect<unknown, BinanceBrokerStartError> =>
      outcome._tag === "Ok"
        ? Effect.succeed(outcome.body)
        : Effect.fail(startError(`${what}: ${outcome._tag === "Refused" ? `${outcome.code} ${outcome.msg}` : outcome.reason}`))
    const info = yield* ok(yield* rest.send("GET", "/api/v3/exchangeInfo", [], false), "exchangeInfo").pipe(
      Effect.flatMap((body) => Effect.mapError(Schema.decodeUnknown(ExchangeInfo)(body), () => startError("exchangeInfo unreadable")))
    )
    const symbols = parseExchangeInfo(info)
    const account = yield* ok(yield* rest.send("GET", "/api/v3/account", [["omitZeroBalances", "true"]]), "account").pipe(
      Effect.flatMap((body) => Effect.mapError(Schema.decodeUnknown(Account)(body), () => startError("account unreadable")))
    )
    const takerRate = account.commissionRates.taker
    yield* Effect.sleep(options.timeSyncInterval ?? "5 minutes").pipe(
      Effect.zipRight(rest.syncTime),
      Effect.forever,
      Effect.interruptible,
      Effect.forkScoped
    )

    const clock = yield* Effect.clock
    const outcomes = new Map<string, Deferred.Deferred<Fill, BrokerError> | Exit.Exit<Fill, BrokerError>>()
    /** Orders sent whose outcome this process never learned: a resubmission asks before it places. */
    const inDoubt = new Set<string>()

    const fault = (order: Order, message: string, cause?: unknown) =>
      new BrokerError({ clientOrderId: order.clientOrderId, message, rejected: false, ...(cause === undefined ? {} : { cause }) })
    const rejected = (order: Order, message: string) =>
      new BrokerError({ clientOrderId: order.clientOrderId, message, rejected: true })

    const execute = (order: Order): Effect.Effect<Fill, BrokerError> =>
      Effect.gen(function*() {
        const filters = symbols.get(order.symbol)
        if (filters === undefined) return yield* rejected(order, `${order.symbol} is not a symbol of the exchange`)
        const rounded = roundOrder(filters, order)
        if (Either.isLeft(rounded)) return yield* rejected(order, `Filter failure: ${rounded.left.filter}: ${rounded.left.message}`)
        const { price, quantity } = rounded.right
        const params: Array<readonly [string, string]> = [
          ["symbol", order.symbol],
          ["side", order.side],
          ["type", order.type],
          ...(order.type === "LIMIT" ? [["timeInForce", "GTC"] as const] : []),
          ["quantity", formatDecimal(quantity)],
          ...(price === undefined ? [] : [["price", formatDecimal(price)] as const]),
          ["newClientOrderId", order.clientOrderId],
          ["newOrderRespType", "FULL"]
        ]
        const query: ReadonlyArray<readonly [string, string]> = [["symbol", order.symbol], ["origClientOrderId", order.clientOrderId]]

        /** An answer with a status: filled, partly filled and done, refused, or still open (queried until done). */
        const settle = (body: unknown): Effect.Effect<Fill | "open", BrokerError> => {
          const answer = decodeAnswer(body)
          if (Either.isLeft(answer)) return Effect.fail(fault(order, "unreadable order answer from the exchange"))
          const a = answer.right
          if (open.has(a.status)) return Effect.succeed("open")
          if (a.status === "FILLED" || BigDecimal.isPositive(a.executedQty)) {
            return Effect.succeed(toFill(order, a, filters, takerRate, a.transactTime ?? a.updateTime ?? clock.unsafeCurrentTimeMillis()))
          }
          return Effect.fail(rejected(order, `the exchange ended the order ${a.status}`))
        }

        let sentAt = -1
        let placeNow = !inDoubt.has(order.clientOrderId)
        let interval = firstInterval
        const backoff = Effect.suspend(() => {
          const wait = interval
          interval = Math.min(maxInterval, interval * 2)
          return Effect.sleep(Duration.millis(wait))
        })
        while (true) {
          if (placeNow) {
            placeNow = false
            sentAt = clock.unsafeCurrentTimeMillis()
            inDoubt.add(order.clientOrderId)
            const placed = yield* rest.send("POST", "/api/v3/order", params)
            if (placed._tag === "Refused") {
              inDoubt.delete(order.clientOrderId)
              const message = `Binance refused the order: ${placed.code} ${placed.msg}`
              return yield* (isRejection(placed.code) ? rejected(order, message) : fault(order, message))
            }
            if (placed._tag === "Ok") {
              const settled = yield* settle(placed.body)
              if (settled !== "open") return settled
            } else {
              yield* Effect.logWarning("binance: order status unknown, asking the exchange").pipe(
                Effect.annotateLogs({ clientOrderId: order.clientOrderId, reason: placed.reason })
              )
            }
          }
          yield* backoff
          const found = yield* rest.send("GET", "/api/v3/order", query)
          if (found._tag === "Ok") {
            const settled = yield* settle(found.body)
            if (settled !== "open") return settled
          } else if (found._tag === "Refused" && found.code === -2013) {
            if (sentAt < 0) sentAt = clock.unsafeCurrentTimeMillis()
            // not known: only after the grace is it not placed, and only then is it sent again
            if (clock.unsafeCurrentTimeMillis() - sentAt >= grace) {
              yield* Effect.logWarning("binance: the exchange does not have the order, placing it again").pipe(
                Effect.annotateLogs({ clientOrderId: order.clientOrderId })
              )
              placeNow = true
              interval = firstInterval
            }
          } else if (found._tag === "Refused") {
            return yield* fault(order, `Binance refused the order query: ${found.code} ${found.msg}`)
          }
        }
      })

    return Broker.of({
      submit: (order) =>
        Effect.suspend(() => {
          const known = outcomes.get(order.clientOrderId)
          if (known !== undefined) return Exit.isExit(known) ? known : Deferred.await(known)
          const outcome = Deferred.unsafeMake<Fill, BrokerError>(FiberId.none)
          outcomes.set(order.clientOrderId, outcome)
          return execute(order).pipe(
            Effect.onExit((exit) => {
              // a fault or an interruption is not an outcome: a resubmission asks the exchange again
              const final = Exit.isSuccess(exit) || (Exit.isFailure(exit) && !Exit.isInterrupted(exit) &&
                exit.cause._tag === "Fail" && exit.cause.error.rejected)
              if (final) {
                outcomes.set(order.clientOrderId, exit)
                inDoubt.delete(order.clientOrderId)
              } else outcomes.delete(order.clientOrderId)
              return Deferred.done(outcome, exit)
            })
          )
        })
    })
  })

/**
 * The broker as a scoped layer: at start it syncs the server time, reads the symbols' filters (`exchangeInfo`) and
 * the account's commission rates, then keeps the time offset fresh. Needs an `HttpClient`.
 */
export const layer = (
  options: BinanceBrokerOptions
): Layer.Layer<Broker, BinanceBrokerStartError, HttpClient.HttpClient> => Layer.scoped(Broker, make(options))
