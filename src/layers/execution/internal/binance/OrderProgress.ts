/**
 * What is known of one order on the exchange, from whichever source said it
 * (the order's REST answer, a query, an `executionReport`), turned into fills
 * that add up to what the exchange executed: each part once, however many
 * sources report it and in whatever order.
 */
import { BigDecimal } from "effect"
import { formatDecimal } from "../../../../domain/Decimal.js"
import type { Fill, Order } from "../../../../domain/Order.js"
import type { SymbolFilters } from "./Filters.js"

const zero = BigDecimal.make(0n, 0)
const scale8 = (d: BigDecimal.BigDecimal) => BigDecimal.normalize(BigDecimal.round(d, { scale: 8, mode: "half-even" }))

/** One trade of the order as the exchange reported it. */
export interface Trade {
  readonly tradeId: number | undefined
  readonly quantity: BigDecimal.BigDecimal
  readonly price: BigDecimal.BigDecimal
  readonly commission: BigDecimal.BigDecimal
  readonly commissionAsset: string | undefined
  /** The order's executed quantity once this trade is counted. */
  readonly cumulativeQuantity: BigDecimal.BigDecimal
}

/** The order's state in one answer or report. */
export interface OrderView {
  readonly orderId: number
  /** Binance's: NEW, PARTIALLY_FILLED, FILLED, CANCELED, PENDING_CANCEL, REJECTED, EXPIRED, EXPIRED_IN_MATCH. */
  readonly status: string
  readonly executedQuantity: BigDecimal.BigDecimal
  readonly cumulativeQuote: BigDecimal.BigDecimal
  /** The trades it carries (a query carries none: its executed total is counted as one part). */
  readonly trades: ReadonlyArray<Trade>
  readonly time: number
  /** Why the exchange ended it, when it says. */
  readonly reason?: string
}

const openStatuses = new Set(["NEW", "PARTIALLY_FILLED", "PENDING_NEW", "PENDING_CANCEL"])
export const isOpenStatus = (status: string) => openStatuses.has(status)

/** How an order ended: its last fill, or without (the rest of) it. */
export type OrderEnd =
  | { readonly _tag: "Filled"; readonly fill: Fill }
  | { readonly _tag: "Ended"; readonly status: string; readonly reason: string }

export interface Progress {
  /** Parts newly executed, in order, with status PARTIALLY_FILLED (the last one FILLED when `end` is Filled). */
  readonly fills: ReadonlyArray<Fill>
  /** Set once the order has ended. */
  readonly end: OrderEnd | undefined
}

export interface OrderProgress {
  /** Counts what `view` adds to what was counted before. */
  readonly apply: (view: OrderView) => Progress
  readonly executed: () => BigDecimal.BigDecimal
}

/**
 * Follows one order. `already` are its fills journaled before (a restart): they are counted, never reported again.
 * `takerRate` prices the fee of a part known only from a query (no commission reported).
 */
export const makeOrderProgress = (
  order: Order,
  filters: SymbolFilters,
  takerRate: BigDecimal.BigDecimal,
  already: ReadonlyArray<Fill> = []
): OrderProgress => {
  let executed = zero
  let quote = zero
  const seen = new Set<string>()
  for (const f of already) {
    executed = BigDecimal.sum(executed, f.quantity)
    quote = BigDecimal.sum(quote, BigDecimal.multiply(f.quantity, f.price))
    seen.add(f.tradeId)
  }

  const feeInQuote = (commission: BigDecimal.BigDecimal, asset: string | undefined, price: BigDecimal.BigDecimal) =>
    asset === filters.quoteAsset
      ? commission
      : asset === filters.baseAsset
      ? BigDecimal.multiply(commission, price)
      : zero // charged in another asset (BNB): kept as `commission`, not converted

  const fillOf = (
    tradeId: string,
    quantity: BigDecimal.BigDecimal,
    price: BigDecimal.BigDecimal,
    fee: BigDecimal.BigDecimal,
    at: number,
    commission?: { readonly amount: BigDecimal.BigDecimal; readonly asset: string }
  ): Fill => {
    executed = BigDecimal.sum(executed, quantity)
    quote = BigDecimal.sum(quote, BigDecimal.multiply(quantity, price))
    seen.add(tradeId)
    return {
      clientOrderId: order.clientOrderId,
      tradeId,
      symbol: order.symbol,
      side: order.side,
      type: order.type,
      quantity: BigDecimal.normalize(quantity),
      price: BigDecimal.normalize(price),
      fee: scale8(fee),
      status: "PARTIALLY_FILLED",
      orderCreatedAt: order.createdAt,
      filledAt: at,
      cumulativeQuantity: BigDecimal.normalize(executed),
      cumulativeQuote: scale8(quote),
      ...(commission === undefined
        ? {}
        : { commission: BigDecimal.normalize(commission.amount), commissionAsset: commission.asset }),
      // a commission in the base asset comes off what a BUY receives (and on top of what a SELL gives)
      ...(commission !== undefined && commission.asset === filters.baseAsset && BigDecimal.isPositive(commission.amount)
        ? {
          netQuantity: BigDecimal.normalize(
            order.side === "BUY" ? BigDecimal.subtract(quantity, commission.amount) : BigDecimal.sum(quantity, commission.amount)
          )
        }
        : {})
    }
  }

  const apply = (view: OrderView): Progress => {
    const fills: Array<Fill> = []
    for (const t of view.trades) {
      const id = t.tradeId === undefined ? `${view.orderId}-${formatDecimal(t.cumulativeQuantity)}` : String(t.tradeId)
      // counted already: by its id, or as part of a total a query reported
      if (seen.has(id) || !BigDecimal.greaterThan(t.cumulativeQuantity, executed)) continue
      const uncounted = BigDecimal.subtract(t.cumulativeQuantity, executed)
      const quantity = BigDecimal.min(t.quantity, uncounted)
      const share = BigDecimal.equals(quantity, t.quantity) ? t.commission : zero
      fills.push(fillOf(
        id,
        quantity,
        t.price,
        feeInQuote(share, t.commissionAsset, t.price),
        view.time,
        t.commissionAsset === undefined ? undefined : { amount: share, asset: t.commissionAsset }
      ))
    }
    if (BigDecimal.greaterThan(view.executedQuantity, executed)) {
      // the exchange executed more than the trades seen: one part at the average price of the rest
      const quantity = BigDecimal.subtract(view.executedQuantity, executed)
      const partQuote = BigDecimal.subtract(view.cumulativeQuote, quote)
      const price = scale8(BigDecimal.unsafeDivide(partQuote, quantity))
      fills.push(fillOf(
        `${view.orderId}-${formatDecimal(view.executedQuantity)}`,
        quantity,
        price,
        BigDecimal.multiply(partQuote, takerRate),
        view.time
      ))
    }
    if (isOpenStatus(view.status)) return { fills, end: undefined }
    if (view.status === "FILLED") {
      const last = fills.pop()
      // a FILLED view with nothing new (its last part was reported as it filled): a part of 0 closes the order
      const final = last ?? fillOf(`${view.orderId}-end`, zero, view.executedQuantity.value === 0n ? order.price : scale8(BigDecimal.unsafeDivide(view.cumulativeQuote, view.executedQuantity)), zero, view.time)
      return { fills, end: { _tag: "Filled", fill: { ...final, status: "FILLED" } } }
    }
    const done = formatDecimal(executed)
    return {
      fills,
      end: {
        _tag: "Ended",
        status: view.status,
        reason: `${view.status}${view.reason === undefined || view.reason === "NONE" ? "" : ` (${view.reason})`} on the exchange after ${done} of ${formatDecimal(order.quantity)} filled`
      }
    }
  }

  return { apply, executed: () => executed }
}

