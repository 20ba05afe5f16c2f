/**
 * Executes orders on Binance Spot (or anything speaking its API: the testnet,
 * the simulated exchange), built never to place an order twice: our
 * `clientOrderId` is sent as `newClientOrderId`, the send is journaled first
 * (`OrderSteps`), and a send whose outcome is UNKNOWN (a timeout, a dropped
 * connection, a 5XX, -1007) or that a crash interrupted is followed by
 * queries by `origClientOrderId`; the order is placed again only once the
 * exchange has said, for longer than `notFoundGrace`, that it does not have it.
 * Its parts come from the answers, the queries and the user data stream
 * (`executionReport`s), each counted once.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Socket from "@effect/platform/Socket"
import { BigDecimal, Context, Deferred, Duration, Effect, Either, Exit, FiberId, Layer, Metric, Option, Queue } from "effect"
import * as Metrics from "../../domain/Metrics.js"
import { formatDecimal } from "../../domain/Decimal.js"
import type { Fill, Order } from "../../domain/Order.js"
import { BrokerError } from "../../domain/TradingErrors.js"
import { Broker, type OrderUpdate } from "../../services/Broker.js"
import { ExchangeAccount } from "../../services/ExchangeAccount.js"
import { OrderSteps, type OrderStep } from "../../services/OrderSteps.js"
import { type ExchangeSession, makeExchangeSession } from "./internal/binance/ExchangeSession.js"
import { roundOrder } from "./internal/binance/Filters.js"
import { makeOrderProgress, type OrderEnd, type OrderView } from "./internal/binance/OrderProgress.js"
import { tradesOfAnswer, viewOfAnswer } from "./internal/binance/OrderViews.js"
import type { BinanceBrokerOptions, BinanceBrokerStartError } from "./internal/binance/BrokerOptions.js"

export { type BinanceBrokerOptions, BinanceBrokerStartError } from "./internal/binance/BrokerOptions.js"

/** Codes that mean this order was refused (filters, balance, parameters), not that something is broken. */
const isRejection = (code: number) => code === -2010 || code === -1013 || (code <= -1100 && code >= -1199)

/** Outcomes kept in memory for an order submitted again in the same run (oldest forgotten first). */
const keptOutcomes = 10_000

const endedAs = (status: string): "CANCELLED" | "EXPIRED" | undefined =>
  status === "CANCELED" || status === "PENDING_CANCEL" ? "CANCELLED" : status.startsWith("EXPIRED") ? "EXPIRED" : undefined

const make = (options: BinanceBrokerOptions) =>
  Effect.gen(function*() {
    const grace = Duration.toMillis(Duration.decode(options.notFoundGrace ?? "10 seconds"))
    const firstInterval = Duration.toMillis(Duration.decode(options.queryInterval ?? "200 millis"))
    const maxInterval = Duration.toMillis(Duration.decode(options.maxQueryInterval ?? "5 seconds"))
    const clock = yield* Effect.clock
    const steps = Option.getOrUndefined(yield* Effect.serviceOption(OrderSteps))
    /** The inbox of each order being worked on: what the user data stream said of it, or "query" (a reconnect). */
    const inboxes = new Map<string, Queue.Queue<OrderView | "query">>()
    const traded = new Set<string>()
    const session: ExchangeSession = yield* makeExchangeSession(options, {
      onView: (clientOrderId, view) =>
        Effect.suspend(() => {
          const inbox = inboxes.get(clientOrderId)
          return inbox === undefined ? Effect.void : Queue.offer(inbox, view)
        }),
      tracked: () => [...inboxes.keys()],
      symbols: () => traded,
      queryAll: Effect.suspend(() => Effect.forEach(inboxes.values(), (inbox) => Queue.offer(inbox, "query"), { discard: true }))
    })
    const { rest, symbols, takerRate } = session

    const outcomes = new Map<string, Deferred.Deferred<Fill, BrokerError> | Exit.Exit<Fill, BrokerError>>()
    /** Orders sent whose outcome this process never learned: a resubmission asks before it places. */
    const inDoubt = new Set<string>()

    const fault = (order: Order, message: string, cause?: unknown) =>
      new BrokerError({ clientOrderId: order.clientOrderId, message, rejected: false, ...(cause === undefined ? {} : { cause }) })
    const rejected = (order: Order, message: string) =>
      new BrokerError({ clientOrderId: order.clientOrderId, message, rejected: true })
    const record = (order: Order, step: OrderStep["step"], detail?: string) =>
      steps === undefined ? Effect.void : steps.record({
        clientOrderId: order.clientOrderId,
        step,
        at: clock.unsafeCurrentTimeMillis(),
        ...(detail === undefined ? {} : { detail })
      }).pipe(Effect.mapError((error) => fault(order, `cannot journal the order's step ${step}: ${error.message}`, error)))

    /**
     * A query's view carries no trades: when it shows parts not counted yet, the order's trades (their prices and
     * commissions as charged) are read with `myTrades`; without them, the rest is one part at its average price.
     */
    const withTrades = (order: Order, view: OrderView, counted: BigDecimal.BigDecimal) =>
      !BigDecimal.greaterThan(view.executedQuantity, counted)
        ? Effect.succeed(view)
        : Effect.map(
          rest.send("GET", "/api/v3/myTrades", [["symbol", order.symbol], ["orderId", String(view.orderId)]]),
          (answer) => {
            const trades = answer._tag === "Ok" ? tradesOfAnswer(answer.body) : undefined
            return trades === undefined ? view : { ...view, trades }
          }
        )

    const execute = (order: Order, onUpdate: (update: OrderUpdate) => Effect.Effect<void>) =>
      Effect.gen(function*() {
        const filters = symbols.get(order.symbol)
        if (filters === undefined) return yield* rejected(order, `${order.symbol} is not a symbol of the exchange`)
        const rounded = roundOrder(filters, order)
        if (Either.isLeft(rounded)) return yield* rejected(order, `Filter failure: ${rounded.left.filter}: ${rounded.left.message}`)
        const { price, quantity } = rounded.right
        traded.add(order.symbol)
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

        // what an earlier attempt (of this process, or of one a crash stopped) did
        const earlier = steps === undefined ? [] : yield* steps.stepsOf(order.clientOrderId).pipe(
          Effect.mapError((error) => fault(order, `not sent: cannot read its journaled steps: ${error.message}`, error))
        )
        const lastSend = [...earlier].reverse().find((s) => s.step === "sending")
        const sentBefore = inDoubt.has(order.clientOrderId) || lastSend !== undefined
        const already = sentBefore && steps !== undefined
          ? yield* steps.fillsOf(order.clientOrderId).pipe(Effect.mapError((error) => fault(order, error.message, error)))
          : []
        const progress = makeOrderProgress(order, filters, takerRate, already)
        let placedSaid = earlier.some((s) => s.step === "placed")
        const inbox = yield* Queue.unbounded<OrderView | "query">()
        inboxes.set(order.clientOrderId, inbox)
        yield* Effect.addFinalizer(() => Effect.sync(() => inboxes.delete(order.clientOrderId)))

        /** Counts what a view adds: the acknowledgement, the parts, the end. */
        const absorb = (view: OrderView): Effect.Effect<OrderEnd | undefined, BrokerError> =>
          Effect.gen(function*() {
            if (!placedSaid) {
              placedSaid = true
              yield* record(order, "placed", `orderId ${view.orderId}`)
              yield* onUpdate({ _tag: "Placed", order: { ...order, quantity, status: "PLACED", updatedAt: view.time } })
            }
            const progressed = progress.apply(view)
            for (const fill of progressed.fills) yield* onUpdate({ _tag: "PartlyFilled", fill })
            if (progressed.end !== undefined) yield* record(order, "ended", view.status)
            return progressed.end
          })

        const finish = (end: OrderEnd): Effect.Effect<Fill, BrokerError> => {
          if (end._tag === "Filled") return Effect.succeed(end.fill)
          const ended = endedAs(end.status)
          return Effect.fail(new BrokerError({
            clientOrderId: order.clientOrderId,
            message: end.reason,
            rejected: true,
            ...(ended === undefined ? {} : { ended })
          }))
        }

        let sentAt = lastSend?.at ?? -1
        let placeNow = !sentBefore
        let interval = firstInterval
        while (true) {
          if (placeNow) {
            placeNow = false
            // journaled before it leaves: a crash from here on is followed by a query, never a blind resend
            yield* record(order, "sending")
            sentAt = clock.unsafeCurrentTimeMillis()
            inDoubt.add(order.clientOrderId)
            const placed = yield* rest.send("POST", "/api/v3/order", params)
            if (placed._tag === "Refused") {
              inDoubt.delete(order.clientOrderId)
              yield* record(order, "ended", `${placed.code} ${placed.msg}`)
              const message = `Binance refused the order: ${placed.code} ${placed.msg}`
              return yield* (isRejection(placed.code) ? rejected(order, message) : fault(order, message))
            }
            if (placed._tag === "Ok") {
              const view = viewOfAnswer(placed.body, clock.unsafeCurrentTimeMillis())
              if (view === undefined) return yield* fault(order, "unreadable order answer from the exchange")
              const end = yield* absorb(view)
              if (end !== undefined) return yield* finish(end)
            } else {
              yield* record(order, "unknown", placed.reason)
              yield* Metric.increment(Metrics.binanceUnknownTotal)
              yield* Effect.logWarning("binance: order status unknown, asking the exchange").pipe(
                Effect.annotateLogs({ clientOrderId: order.clientOrderId, reason: placed.reason })
              )
            }
          }
          // wait for the user data stream to say something of it, at most the backoff, then ask
          const wait = interval
          interval = Math.min(maxInterval, interval * 2)
          const heard = yield* Queue.take(inbox).pipe(Effect.timeoutOption(Duration.millis(wait)))
          if (Option.isSome(heard) && heard.value !== "query") {
            const end = yield* absorb(heard.value)
            if (end !== undefined) return yield* finish(end)
            continue
          }
          const found = yield* rest.send("GET", "/api/v3/order", query)
          if (found._tag === "Ok") {
            const view = viewOfAnswer(found.body, clock.unsafeCurrentTimeMillis())
            if (view === undefined) return yield* fault(order, "unreadable order query answer from the exchange")
            const end = yield* absorb(yield* withTrades(order, view, progress.executed()))
            if (end !== undefined) return yield* finish(end)
          } else if (found._tag === "Refused" && found.code === -2013) {
            if (sentAt < 0) sentAt = clock.unsafeCurrentTimeMillis()
            // not known: only after the grace is it not placed, and only then is it sent again
            if (clock.unsafeCurrentTimeMillis() - sentAt >= grace) {
              yield* record(order, "not-found", `-2013 for ${clock.unsafeCurrentTimeMillis() - sentAt} ms`)
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
      }).pipe(Effect.scoped)

    const broker = Broker.of({
      cancel: (order) =>
        Effect.gen(function*() {
          const answer = yield* rest.send("DELETE", "/api/v3/order", [["symbol", order.symbol], ["origClientOrderId", order.clientOrderId]])
          const failed = (message: string, rejected: boolean) =>
            new BrokerError({ clientOrderId: order.clientOrderId, message, rejected })
          if (answer._tag === "Refused") return yield* failed(`Binance refused the cancel: ${answer.code} ${answer.msg}`, true)
          if (answer._tag === "Unknown") return yield* failed(`the cancel's outcome is unknown: ${answer.reason}`, false)
          // the order's submit hears it at once (the stream says it too; counted once)
          const view = viewOfAnswer(answer.body, clock.unsafeCurrentTimeMillis())
          const inbox = inboxes.get(order.clientOrderId)
          if (view !== undefined && inbox !== undefined) yield* Queue.offer(inbox, view)
        }),
      submit: (order, submitOptions) =>
        Effect.suspend(() => {
          const known = outcomes.get(order.clientOrderId)
          if (known !== undefined) return Exit.isExit(known) ? known : Deferred.await(known)
          const outcome = Deferred.unsafeMake<Fill, BrokerError>(FiberId.none)
          outcomes.set(order.clientOrderId, outcome)
          return execute(order, submitOptions?.onUpdate ?? (() => Effect.void)).pipe(
            Effect.onExit((exit) => {
              // a fault or an interruption is not an outcome: a resubmission asks the exchange again
              const final = Exit.isSuccess(exit) || (Exit.isFailure(exit) && !Exit.isInterrupted(exit) &&
                exit.cause._tag === "Fail" && exit.cause.error.rejected)
              if (final) {
                outcomes.set(order.clientOrderId, exit)
                inDoubt.delete(order.clientOrderId)
                // a live run's memory stays bounded: older outcomes are the journal's to answer (JournaledBroker)
                if (outcomes.size > keptOutcomes) outcomes.delete(outcomes.keys().next().value!)
              } else outcomes.delete(order.clientOrderId)
              return Deferred.done(outcome, exit)
            })
          )
        })
    })
    return Context.make(Broker, broker).pipe(Context.add(ExchangeAccount, session.account))
  })

/**
 * The broker as a scoped layer, with the account it trades for: at start it syncs the server time, reads the
 * symbols' filters (`exchangeInfo`) and the account's commission rates, subscribes to the user data stream
 * (with `wsApiUrl`), then keeps the time offset fresh. Journals each order's steps when `OrderSteps` is given.
 */
export const layer = (
  options: BinanceBrokerOptions
): Layer.Layer<
  Broker | ExchangeAccount,
  BinanceBrokerStartError,
  HttpClient.HttpClient | Socket.WebSocketConstructor
> => Layer.scopedContext(make(options))

