/**
 * What a Binance broker holds for its life: the REST client with its
 * server-time offset kept fresh, the symbols' filters, the account's taker
 * rate, the account as `ExchangeAccount`, and (with a WebSocket API URL) the
 * user data stream, whose reports it routes to the orders being worked on
 * and after whose every reconnect it reconciles them.
 */
import { type BigDecimal, Duration, Effect, Metric, Schema, type Scope } from "effect"
import * as Metrics from "../../../../domain/Metrics.js"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Socket from "@effect/platform/Socket"
import { type Balance, ExchangeAccount, ExchangeAccountError } from "../../../../services/ExchangeAccount.js"
import { type BinanceBrokerOptions, BinanceBrokerStartError } from "./BrokerOptions.js"
import { ExchangeInfo, parseExchangeInfo, type SymbolFilters } from "./Filters.js"
import type { OrderView } from "./OrderProgress.js"
import { OpenOrders, orderIdOfReport, viewOfReport } from "./OrderViews.js"
import { makeUserDataStream } from "./UserDataStream.js"
import { makeRestClient, type Outcome, type RestClient } from "./RestClient.js"

const Dec = Schema.BigDecimal
const Account = Schema.Struct({
  commissionRates: Schema.Struct({ taker: Dec }),
  balances: Schema.Array(Schema.Struct({ asset: Schema.String, free: Dec, locked: Dec }))
})

export interface SessionHooks {
  /** A report of an order from the user data stream. */
  readonly onView: (clientOrderId: string, view: OrderView) => Effect.Effect<void>
  /** The orders being worked on now. */
  readonly tracked: () => ReadonlyArray<string>
  /** The symbols this broker has traded: their open orders are listed after a reconnect. */
  readonly symbols: () => ReadonlySet<string>
  /** Has every order being worked on asked the exchange at once (after a reconnect). */
  readonly queryAll: Effect.Effect<void>
}

export interface ExchangeSession {
  readonly rest: RestClient
  readonly symbols: ReadonlyMap<string, SymbolFilters>
  readonly takerRate: BigDecimal.BigDecimal
  readonly account: ExchangeAccount["Type"]
}

export const makeExchangeSession = (
  options: BinanceBrokerOptions,
  hooks: SessionHooks
): Effect.Effect<ExchangeSession, BinanceBrokerStartError, HttpClient.HttpClient | Socket.WebSocketConstructor | Scope.Scope> =>
  Effect.gen(function*() {
    const startError = (reason: string) => new BinanceBrokerStartError({ restUrl: options.restUrl, reason })
    const rest: RestClient = yield* makeRestClient({
      restUrl: options.restUrl,
      apiKey: options.apiKey,
      signer: options.signer,
      recvWindow: options.recvWindow ?? 5000,
      requestTimeout: Duration.decode(options.requestTimeout ?? "10 seconds")
    })
    // exported from the first scrape, at 0
    yield* Effect.all([
      Metric.set(Metrics.binanceUsedWeight, 0),
      Metric.incrementBy(Metrics.binanceRateLimitedTotal, 0),
      Metric.incrementBy(Metrics.binanceUnknownTotal, 0),
      Metric.incrementBy(Metrics.binanceUserDataReconnectsTotal, 0)
    ], { discard: true })
    if (!(yield* rest.syncTime)) return yield* startError("GET /api/v3/time failed")
    const ok = (outcome: Outcome, what: string): Effect.Effect<unknown, string> =>
      outcome._tag === "Ok"
        ? Effect.succeed(outcome.body)
        : Effect.fail(`${what}: ${outcome._tag === "Refused" ? `${outcome.code} ${outcome.msg}` : outcome.reason}`)
    const info = yield* rest.send("GET", "/api/v3/exchangeInfo", [], false).pipe(
      Effect.flatMap((outcome) => ok(outcome, "exchangeInfo")),
      Effect.flatMap((body) => Effect.mapError(Schema.decodeUnknown(ExchangeInfo)(body), () => "exchangeInfo unreadable")),
      Effect.mapError(startError)
    )
    const symbols = parseExchangeInfo(info)
    const readAccount = rest.send("GET", "/api/v3/account", [["omitZeroBalances", "true"]]).pipe(
      Effect.flatMap((outcome) => ok(outcome, "GET /api/v3/account")),
      Effect.flatMap((body) => Effect.mapError(Schema.decodeUnknown(Account)(body), () => "the account's answer is unreadable"))
    )
    const first = yield* Effect.mapError(readAccount, startError)
    yield* Effect.sleep(options.timeSyncInterval ?? "5 minutes").pipe(
      Effect.zipRight(rest.syncTime),
      Effect.forever,
      Effect.interruptible,
      Effect.forkScoped
    )

    const account = ExchangeAccount.of({
      location: options.restUrl,
      assetsOf: (symbol) => {
        const filters = symbols.get(symbol.toUpperCase())
        return filters === undefined ? undefined : { base: filters.baseAsset, quote: filters.quoteAsset }
      },
      balances: readAccount.pipe(
        Effect.map((a) => new Map(a.balances.map((b): [string, Balance] => [b.asset, b]))),
        Effect.mapError((reason) => new ExchangeAccountError({ location: options.restUrl, reason }))
      )
    })

    /** After a reconnect: every order being worked on asks the exchange; open orders nobody tracks are said. */
    const reconcile = Effect.gen(function*() {
      yield* hooks.queryAll
      const tracked = new Set(hooks.tracked())
      // per symbol: Binance weighs a listing of every symbol's open orders 80, one symbol's 6
      for (const symbol of hooks.symbols()) {
        const listed = yield* rest.send("GET", "/api/v3/openOrders", [["symbol", symbol]])
        if (listed._tag !== "Ok") continue
        const open = Schema.decodeUnknownOption(OpenOrders)(listed.body)
        if (open._tag === "None") continue
        const untracked = open.value.filter((o) => !tracked.has(o.clientOrderId))
        if (untracked.length > 0) {
          yield* Effect.logWarning(
            `binance: ${untracked.length} open ${symbol} orders on the exchange are not this engine's in flight: ${
              untracked.slice(0, 10).map((o) => `${o.clientOrderId} ${o.status}`).join(", ")
            }`
          )
        }
      }
    })
    if (options.wsApiUrl !== undefined) {
      yield* makeUserDataStream({
        wsApiUrl: options.wsApiUrl,
        apiKey: options.apiKey,
        signer: options.signer,
        recvWindow: options.recvWindow ?? 5000,
        timeOffset: rest.offset
      }, {
        onReport: (report) => hooks.onView(orderIdOfReport(report), viewOfReport(report)),
        // after a reconnect, what the stream may have missed is asked for
        onSubscribed: ({ resumed }) =>
          resumed ? Effect.zipRight(Metric.increment(Metrics.binanceUserDataReconnectsTotal), reconcile) : Effect.void
      }).pipe(Effect.mapError((error) => startError(`the user data stream: ${error.message}`)))
    }
    return { rest, symbols, takerRate: first.commissionRates.taker, account }
  })
