import { BigDecimal, Data, Duration, Effect, Layer, Option } from "effect"
import { decimalFromNumber, divideToScale, formatDecimal, normalize } from "../../domain/Decimal.js"
import { makeRunTag, type Order, type OrderSide } from "../../domain/Order.js"
import type { Position } from "../../domain/Position.js"
import type { Signal } from "../../domain/Signal.js"
import { OrderError, OrderRefused } from "../../domain/TradingErrors.js"
import { OrderManager } from "../../services/OrderManager.js"
import { Portfolio } from "../../services/Portfolio.js"
import { positiveDecimal, type SettingProblem, wholeNumber } from "../bus/internal/Options.js"
import { recoveredOpenOrders } from "../journal/JournalState.js"

/** An order manager setting that cannot work; `setting` names it as the layer's options do. */
export class OrderManagerConfigError extends Data.TaggedError("OrderManagerConfigError")<SettingProblem> {
  override get message() {
    return `invalid order manager setting ${this.setting}=${String(this.value)}: ${this.reason}`
  }
}

export interface RiskOrderManagerOptions {
  /** Notional of one LONG or SHORT order, in the quote asset. Default "100". */
  readonly quoteAmount?: BigDecimal.BigDecimal | string | number
  /** Largest |position| * signal price per symbol an order may lead to. Default "1000". */
  readonly maxPositionNotional?: BigDecimal.BigDecimal | string | number
  /** Most orders created and not yet seen in the Portfolio, across symbols. Default 5. */
  readonly maxOpenOrders?: number
  /** Decimals of an order quantity, rounded down. Default 6. */
  readonly quantityScale?: number
  /**
   * How long (on Effect's Clock) an order not yet seen in the Portfolio still counts as open; after it, it is
   * taken as rejected or lost. Default 30 seconds.
   */
  readonly openOrderTimeout?: Duration.DurationInput
  /** Whether a SELL may open or grow a short position (paper only). Default false: long-only. */
  readonly allowShort?: boolean
}

interface Resolved {
  readonly quoteAmount: BigDecimal.BigDecimal
  readonly maxPositionNotional: BigDecimal.BigDecimal
  readonly maxOpenOrders: number
  readonly quantityScale: number
  readonly openOrderTimeoutMillis: number
  readonly allowShort: boolean
}

const resolve = (options: RiskOrderManagerOptions): Effect.Effect<Resolved, OrderManagerConfigError> =>
  Effect.all({
    quoteAmount: positiveDecimal("quoteAmount", options.quoteAmount ?? "100"),
    maxPositionNotional: positiveDecimal("maxPositionNotional", options.maxPositionNotional ?? "1000"),
    maxOpenOrders: wholeNumber("maxOpenOrders", options.maxOpenOrders ?? 5, 1),
    quantityScale: wholeNumber("quantityScale", options.quantityScale ?? 6, 0),
    openOrderTimeoutMillis: Option.match(Duration.decodeUnknown(options.openOrderTimeout ?? "30 seconds"), {
      onNone: () =>
        Effect.fail({ setting: "openOrderTimeout", value: options.openOrderTimeout, reason: "must be a duration" }),
      onSome: (d) => Effect.succeed(Duration.toMillis(d))
    }),
    allowShort: Effect.succeed(options.allowShort ?? false)
  }).pipe(Effect.mapError((p) => new OrderManagerConfigError(p)))

const zero = BigDecimal.fromBigInt(0n)

/** An order this manager created whose fill the Portfolio has not shown yet. */
interface Open {
  readonly signedQuantity: BigDecimal.BigDecimal
  /** On the Clock. */
  readonly createdAtMillis: number
}

/** Per symbol: the Portfolio quantity the open orders were created against, and those orders. */
interface Pending {
  base: BigDecimal.BigDecimal
  open: Array<Open>
}

/** `quoteAmount / price`, rounded down to `scale` decimals. */
export const sizeOf = (quoteAmount: BigDecimal.BigDecimal, price: BigDecimal.BigDecimal, scale: number) =>
  divideToScale(quoteAmount, price, scale, "floor")

/** What a signal calls for, given the projected position. */
type Decision =
  | { readonly _tag: "Order"; readonly side: OrderSide; readonly quantity: BigDecimal.BigDecimal }
  | { readonly _tag: "Refused"; readonly side: OrderSide; readonly quantity: BigDecimal.BigDecimal; readonly reason: string }
  | { readonly _tag: "None" }
  /** A SHORT while flat (or short) and shorts are not allowed. */
  | { readonly _tag: "LongOnly" }

const none: Decision = { _tag: "None" }
const longOnly: Decision = { _tag: "LongOnly" }

/** Keeps a strategy's name within Binance's client order id alphabet and 36 characters (with the rest). */
const idSafe = (name: string) => name.replace(/[^.A-Za-z0-9:/_-]/g, "_").slice(0, 12) || "order"

const make = (config: Resolved) =>
  Effect.gen(function*() {
    const portfolio = yield* Portfolio
    const clock = yield* Effect.clock
    const pending = new Map<string, Pending>()
    // ids are `<strategy>-<run tag>-<counter>`: unique across runs, so no journaled outcome of an earlier run
    // matches a new order (only a recovered order keeps its journaled id)
    const runTag = makeRunTag()
    const shortsSkipped = new Set<string>()
    let counter = 0

    const nextId = (signal: Signal) => `${idSafe(signal.strategy)}-${runTag}-${(++counter).toString(36)}`

    const orderOf = (
      signal: Signal,
      side: OrderSide,
      quantity: BigDecimal.BigDecimal,
      price: BigDecimal.BigDecimal
    ): Order => ({
      clientOrderId: nextId(signal),
      symbol: signal.symbol,
      side,
      type: "MARKET",
      quantity,
      price,
      status: "NEW",
      createdAt: signal.timestamp,
      updatedAt: signal.timestamp
    })

    /**
     * Forgets open orders that are done. When the symbol's Portfolio quantity
     * moved, the oldest open orders whose quantities add up to the move were
     * filled (fills arrive in order); if none add up (a partial fill, a
     * rejection in between), all of them are forgotten. Orders older than
     * `openOrderTimeout` are taken as rejected or lost.
     */
    const reconcile = (symbol: string, quantity: BigDecimal.BigDecimal, now: number): Pending => {
      let entry = pending.get(symbol)
      if (entry === undefined) {
        entry = { base: quantity, open: [] }
        pending.set(symbol, entry)
      } else if (!BigDecimal.equals(entry.base, quantity)) {
        let reached = entry.base
        let filled = entry.open.length
        for (let i = 0; i < entry.open.length; i++) {
          reached = BigDecimal.sum(reached, entry.open[i]!.signedQuantity)
          if (BigDecimal.equals(reached, quantity)) {
            filled = i + 1
            break
          }
        }
        entry.open = entry.open.slice(filled)
        entry.base = quantity
      }
      for (const e of pending.values()) {
        e.open = e.open.filter((o) => now - o.createdAtMillis < config.openOrderTimeoutMillis)
      }
      return entry
    }

    // orders a previous run left in flight, which JournalRecovery publishes again: open from the start (counted
    // once), until their fills show in the Portfolio, restored from the journal before this layer is built
    for (const order of yield* recoveredOpenOrders) {
      const at = clock.unsafeCurrentTimeMillis()
      const entry = reconcile(order.symbol, (yield* portfolio.position(order.symbol))?.quantity ?? zero, at)
      entry.open.push({ signedQuantity: order.side === "BUY" ? order.quantity : BigDecimal.negate(order.quantity), createdAtMillis: at })
    }

    /** The side and quantity a signal calls for, given the projected position. */
    const decide = (signal: Signal, projected: BigDecimal.BigDecimal, price: BigDecimal.BigDecimal): Decision => {
      const held = BigDecimal.abs(projected)
      const flatten: Decision = { _tag: "Order", side: BigDecimal.isPositive(projected) ? "SELL" : "BUY", quantity: held }
      if (signal.direction === "CLOSE") return BigDecimal.isZero(projected) ? none : flatten
      if (signal.direction === "SHORT" && !config.allowShort) {
        // long-only (spot): a SHORT closes a long, selling what it holds and no more; flat, it trades nothing
        return BigDecimal.isPositive(projected) ? flatten : longOnly
      }
      const side: OrderSide = signal.direction === "LONG" ? "BUY" : "SELL"
      const size = sizeOf(config.quoteAmount, price, config.quantityScale)
      if (!BigDecimal.isPositive(size)) {
        return {
          _tag: "Refused",
          side,
          quantity: size,
          reason: `quoteAmount ${formatDecimal(config.quoteAmount)} at price ${formatDecimal(price)} rounds down to quantity 0 at ${config.quantityScale} decimals`
        }
      }
      // against an opposite position the order reverses it: it closes it and opens `size` the signal's way
      const opposite = side === "BUY" ? BigDecimal.isNegative(projected) : BigDecimal.isPositive(projected)
      return { _tag: "Order", side, quantity: opposite ? normalize(BigDecimal.sum(held, size)) : size }
    }

    /** A SHORT not traded for want of `allowShort`: said at info once per symbol, then at debug. */
    const skipShort = (signal: Signal) => {
      const first = !shortsSkipped.has(signal.symbol)
      shortsSkipped.add(signal.symbol)
      const message = `${signal.strategy}'s SHORT ${signal.symbol} signal at ${signal.timestamp} opens no short: the engine is long-only (allowShort false)${first ? "; further ones are logged at debug level" : ""}`
      return (first ? Effect.logInfo(message) : Effect.logDebug(message)).pipe(
        Effect.annotateLogs({ component: "order-manager" }),
        Effect.as(Option.none<Order>())
      )
    }

    const orderFor = (signal: Signal, position: Position | undefined): Effect.Effect<Option.Option<Order>, OrderError | OrderRefused> => {
          if (!Number.isFinite(signal.price) || signal.price <= 0) {
            return Effect.fail(
              new OrderError({ symbol: signal.symbol, message: `the signal's price must be a number > 0, got ${signal.price}` })
            )
          }
          const price = decimalFromNumber(signal.price)
          // open orders age on the Clock, not on signal time: a replay's signals are minutes apart in milliseconds
          const now = clock.unsafeCurrentTimeMillis()
          const entry = reconcile(signal.symbol, position?.quantity ?? zero, now)
          const projected = entry.open.reduce((q, o) => BigDecimal.sum(q, o.signedQuantity), entry.base)
          const decision = decide(signal, projected, price)
          const refuse = (side: OrderSide, quantity: BigDecimal.BigDecimal, reason: string) =>
            Effect.fail(
              new OrderRefused({
                order: { ...orderOf(signal, side, quantity, price), status: "REJECTED", reason }
              })
            )
          switch (decision._tag) {
            case "None":
              return Effect.succeedNone
            case "LongOnly":
              return skipShort(signal)
            case "Refused":
              return refuse(decision.side, decision.quantity, decision.reason)
          }

          let openOrders = 0
          for (const e of pending.values()) openOrders += e.open.length
          if (openOrders >= config.maxOpenOrders) {
            return refuse(
              decision.side,
              decision.quantity,
              `${openOrders} orders are still open (maxOpenOrders ${config.maxOpenOrders})`
            )
          }
          const signed = decision.side === "BUY" ? decision.quantity : BigDecimal.negate(decision.quantity)
          const after = BigDecimal.sum(projected, signed)
          const notional = normalize(BigDecimal.multiply(BigDecimal.abs(after), price))
          // an order that reduces the exposure is always allowed
          if (
            BigDecimal.greaterThan(notional, config.maxPositionNotional) &&
            BigDecimal.greaterThan(BigDecimal.abs(after), BigDecimal.abs(projected))
          ) {
            return refuse(
              decision.side,
              decision.quantity,
              `a ${decision.side} of ${formatDecimal(decision.quantity)} would take the ${signal.symbol} position notional to ${
                formatDecimal(notional)
              }, above maxPositionNotional ${formatDecimal(config.maxPositionNotional)}`
            )
          }
          entry.open.push({ signedQuantity: signed, createdAtMillis: now })
          return Effect.succeedSome(orderOf(signal, decision.side, decision.quantity, price))
        }

    // a portfolio read synchronously: the order is decided when called (a completed Effect, no fiber step)
    const positionNow = portfolio.unsafe?.position
    const createOrder = (signal: Signal): Effect.Effect<Option.Option<Order>, OrderError | OrderRefused> =>
      positionNow !== undefined
        ? orderFor(signal, positionNow(signal.symbol))
        : Effect.flatMap(portfolio.position(signal.symbol), (position) => Effect.suspend(() => orderFor(signal, position)))

    return OrderManager.of({ createOrder })
  })

/**
 * Turns signals into MARKET orders at the signal's price (a reference for the broker):
 * - LONG: BUY `quoteAmount / price` (rounded down to `quantityScale`); while short, BUY the short back as well
 *   (a reversal); while already long it adds to the position (pyramids) as long as the notional allows;
 * - SHORT, by default (`allowShort` false, spot: long-only): while long, SELL the whole long and no more (a
 *   SHORT means "get out"); while flat, no order (logged at info once per symbol, then at debug: not an error);
 * - SHORT with `allowShort` (paper only): the mirror image of LONG with SELL, opening or reversing into a short;
 * - CLOSE: the order that flattens the position; none when flat.
 * The position is the Portfolio's plus the orders created and not yet seen in it (see `reconcile`), so that
 * signals arriving before a fill is applied do not double up. An order that would take |position| * price above
 * `maxPositionNotional` (unless it reduces the exposure), that would exceed `maxOpenOrders`, or whose size
 * rounds down to 0 is refused: `OrderRefused` with the order it would have been, status `REJECTED` and the
 * reason. `clientOrderId` is `<strategy>-<random run tag>-<counter in base 36>`, at most 36 characters of
 * Binance's alphabet, unique across runs and processes.
 */
export const layer = (
  options: RiskOrderManagerOptions = {}
): Layer.Layer<OrderManager, OrderManagerConfigError, Portfolio> =>
  Layer.effect(OrderManager, Effect.flatMap(resolve(options), make))
