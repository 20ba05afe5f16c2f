import { BigDecimal, Data, Duration, Effect, Exit, Layer, Option } from "effect"
import { formatDecimal, normalize } from "../../domain/Decimal.js"
import { type Fill, makeRunTag, type Order } from "../../domain/Order.js"
import { BrokerError } from "../../domain/TradingErrors.js"
import { Broker } from "../../services/Broker.js"
import { bpsFraction, nonNegativeNumber, positiveDecimal, type SettingProblem, wholeNumber } from "../bus/internal/Options.js"

/** A paper broker setting that cannot work; `setting` names it as the layer's options do. */
export class BrokerConfigError extends Data.TaggedError("BrokerConfigError")<SettingProblem> {
  override get message() {
    return `invalid paper broker setting ${this.setting}=${String(this.value)}: ${this.reason}`
  }
}

export interface PaperBrokerOptions {
  /** Taker fee in basis points of the fill's notional, charged in the quote asset. Default 10 (0.1%). */
  readonly feeBps?: number
  /** Price impact in basis points against the taker: a BUY pays more, a SELL gets less. Default 5. */
  readonly slippageBps?: number
  /** Largest |net position| * fill price per symbol an order may lead to; unlimited when absent. */
  readonly maxPositionNotional?: BigDecimal.BigDecimal | string | number
  /** Most orders executing at once; an order arriving beyond it is rejected. Unlimited when absent. */
  readonly maxOpenOrders?: number
  /** Simulated execution time per order (on Effect's Clock, so TestClock drives it). Default 0. */
  readonly latency?: Duration.DurationInput
}

interface Resolved {
  readonly fee: BigDecimal.BigDecimal
  readonly slippage: BigDecimal.BigDecimal
  readonly maxPositionNotional: BigDecimal.BigDecimal | undefined
  readonly maxOpenOrders: number | undefined
  readonly latency: Duration.Duration
}

const resolve = (options: PaperBrokerOptions): Effect.Effect<Resolved, BrokerConfigError> =>
  Effect.all({
    fee: Effect.map(nonNegativeNumber("feeBps", options.feeBps ?? 10), bpsFraction),
    slippage: Effect.map(nonNegativeNumber("slippageBps", options.slippageBps ?? 5), bpsFraction),
    maxPositionNotional: options.maxPositionNotional === undefined
      ? Effect.succeed(undefined)
      : positiveDecimal("maxPositionNotional", options.maxPositionNotional),
    maxOpenOrders: options.maxOpenOrders === undefined
      ? Effect.succeed(undefined)
      : wholeNumber("maxOpenOrders", options.maxOpenOrders, 1),
    latency: Option.match(Duration.decodeUnknown(options.latency ?? 0), {
      onNone: () => Effect.fail({ setting: "latency", value: options.latency, reason: "must be a duration" }),
      onSome: Effect.succeed
    })
  }).pipe(Effect.mapError((p) => new BrokerConfigError(p)))

const one = BigDecimal.fromBigInt(1n)
const zero = BigDecimal.fromBigInt(0n)

/** The fill price: the reference price moved against the taker by the slippage. */
export const fillPrice = (order: Order, slippage: BigDecimal.BigDecimal): BigDecimal.BigDecimal =>
  normalize(
    BigDecimal.multiply(order.price, order.side === "BUY" ? BigDecimal.sum(one, slippage) : BigDecimal.subtract(one, slippage))
  )

/**
 * An order executing, with the submits of the same order waiting for its outcome. Not a `Deferred` per order:
 * making one costs some 5-15 us here, and a resubmission while an order runs is rare.
 */
interface InFlight {
  readonly waiters: Array<(exit: Exit.Exit<Fill, BrokerError>) => void>
}

const awaitOutcome = (inFlight: InFlight): Effect.Effect<Fill, BrokerError> =>
  Effect.async((resume) => {
    const waiter = (exit: Exit.Exit<Fill, BrokerError>) => resume(exit)
    inFlight.waiters.push(waiter)
    return Effect.sync(() => {
      const i = inFlight.waiters.indexOf(waiter)
      if (i >= 0) inFlight.waiters.splice(i, 1)
    })
  })

const make = (config: Resolved) =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    // the outcome of every order ever submitted, the idempotency record: waited for while the order runs, then
    // kept as its exit alone (a long backtest submits tens of thousands)
    const outcomes = new Map<string, InFlight | Exit.Exit<Fill, BrokerError>>()
    // the broker's own net position per symbol, from its fills (what an exchange account would show)
    const net = new Map<string, BigDecimal.BigDecimal>()
    let inFlight = 0
    let trades = 0
    // trade ids are `paper-<run tag>-<n>`: unique across runs, as an exchange's are, so journals never mix them
    const runTag = makeRunTag()

    const reject = (order: Order, message: string) =>
      new BrokerError({ clientOrderId: order.clientOrderId, message, rejected: true })

    /** The risk and sanity checks, and the fill they allow; runs synchronously so checks and booking are atomic. */
    const execute = (order: Order, filledAt: number): Fill | BrokerError => {
      if (order.type !== "MARKET") return reject(order, `the paper broker fills only MARKET orders, not ${order.type}`)
      if (!BigDecimal.isPositive(order.quantity)) {
        return reject(order, `quantity must be > 0, got ${formatDecimal(order.quantity)}`)
      }
      if (!BigDecimal.isPositive(order.price)) {
        return reject(order, `a MARKET order needs a reference price > 0, got ${formatDecimal(order.price)}`)
      }
      const price = fillPrice(order, config.slippage)
      const before = net.get(order.symbol) ?? zero
      const after = BigDecimal.sum(before, order.side === "BUY" ? order.quantity : BigDecimal.negate(order.quantity))
      if (config.maxPositionNotional !== undefined) {
        const notional = BigDecimal.multiply(BigDecimal.abs(after), price)
        // an order that reduces the exposure is always let through
        if (
          BigDecimal.greaterThan(notional, config.maxPositionNotional) &&
          BigDecimal.greaterThan(BigDecimal.abs(after), BigDecimal.abs(before))
        ) {
          return reject(
            order,
            `the ${order.symbol} position notional would be ${formatDecimal(notional)}, above maxPositionNotional ${
              formatDecimal(config.maxPositionNotional)
            }`
          )
        }
      }
      net.set(order.symbol, normalize(after))
      const notional = BigDecimal.multiply(order.quantity, price)
      return {
        clientOrderId: order.clientOrderId,
        tradeId: `paper-${runTag}-${++trades}`,
        symbol: order.symbol,
        side: order.side,
        type: order.type,
        quantity: normalize(order.quantity),
        price,
        fee: normalize(BigDecimal.multiply(notional, config.fee)),
        status: "FILLED",
        orderCreatedAt: order.createdAt,
        filledAt
      }
    }

    /** Without latency an order executes at once: its outcome is a completed Effect, kept as it is. */
    const runNow = (order: Order): Exit.Exit<Fill, BrokerError> => {
      const result = execute(order, clock.unsafeCurrentTimeMillis())
      const exit = result instanceof BrokerError ? Exit.fail(result) : Exit.succeed(result)
      outcomes.set(order.clientOrderId, exit)
      return exit
    }

    const run = (order: Order): Effect.Effect<Fill, BrokerError> =>
      Effect.suspend(() => {
        if (config.maxOpenOrders !== undefined && inFlight >= config.maxOpenOrders) {
          return Effect.fail(
            reject(order, `${inFlight} orders are already executing (maxOpenOrders ${config.maxOpenOrders})`)
          )
        }
        inFlight++
        const latency = Duration.isZero(config.latency) ? Effect.void : Effect.sleep(config.latency)
        return latency.pipe(
          Effect.flatMap(() =>
            Effect.suspend(() => {
              const result = execute(order, clock.unsafeCurrentTimeMillis())
              return result instanceof BrokerError ? Effect.fail(result) : Effect.succeed(result)
            })
          ),
          Effect.ensuring(Effect.sync(() => inFlight--))
        )
      })

    return Broker.of({
      submit: (order) =>
        Effect.suspend(() => {
          const known = outcomes.get(order.clientOrderId)
          if (known !== undefined) return Exit.isExit(known) ? known : awaitOutcome(known)
          // nothing to wait for, so nothing in flight to count against maxOpenOrders
          if (Duration.isZero(config.latency)) return runNow(order)
          const inFlight: InFlight = { waiters: [] }
          outcomes.set(order.clientOrderId, inFlight)
          return run(order).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() => {
                // interrupted before it executed (during the latency): a resubmission may try again
                if (Exit.isInterrupted(exit)) outcomes.delete(order.clientOrderId)
                else outcomes.set(order.clientOrderId, exit)
                for (const waiter of inFlight.waiters) waiter(exit)
              })
            )
          )
        })
    })
  })

/**
 * A simulated exchange. Fills MARKET orders in full at the order's reference
 * price moved by `slippageBps` against the taker, with a fee of
 * `feeBps` of the notional, in exact decimals (no tick or lot rounding).
 * Rejects (`BrokerError`, `rejected: true`) an order that would take the
 * symbol's net position notional above `maxPositionNotional` (orders that
 * reduce exposure always pass) or that arrives while `maxOpenOrders` are
 * executing. Trade ids are `paper-<random run tag>-<n>`, unique across runs.
 * Idempotent by `clientOrderId`: a resubmission returns the
 * first outcome (fill or rejection) without executing again. Keeps its own
 * net positions, so it needs no other service.
 */
export const layer = (options: PaperBrokerOptions = {}): Layer.Layer<Broker, BrokerConfigError> =>
  Layer.effect(Broker, Effect.flatMap(resolve(options), make))
