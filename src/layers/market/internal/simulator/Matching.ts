/**
 * The simulator's one account: balances, orders and their matching against
 * the walk's price. MARKET orders fill at the current price (in parts when
 * told to, one part per later price); LIMIT orders fill at once when
 * marketable, otherwise rest until the price crosses them. Pure state: the
 * caller passes the time and receives every order update through `onUpdate`.
 */
import { BigDecimal } from "effect"
import { floor8, type SymbolRules } from "./SymbolRules.js"

export type Side = "BUY" | "SELL"
export type OrderType = "LIMIT" | "MARKET"
export type TimeInForce = "GTC" | "IOC" | "FOK"
export type OrderStatus = "NEW" | "PARTIALLY_FILLED" | "FILLED" | "CANCELED" | "EXPIRED"
export type ExecutionType = "NEW" | "TRADE" | "CANCELED" | "EXPIRED"

export interface Trade {
  readonly tradeId: number
  readonly price: BigDecimal.BigDecimal
  readonly qty: BigDecimal.BigDecimal
  readonly commission: BigDecimal.BigDecimal
  readonly commissionAsset: string
  readonly time: number
  readonly maker: boolean
}

export interface SimOrder {
  readonly symbol: string
  readonly orderId: number
  readonly clientOrderId: string
  readonly side: Side
  readonly type: OrderType
  readonly timeInForce: TimeInForce
  /** Zero for MARKET orders, as Binance reports it. */
  readonly price: BigDecimal.BigDecimal
  readonly origQty: BigDecimal.BigDecimal
  readonly time: number
  executedQty: BigDecimal.BigDecimal
  cumQuote: BigDecimal.BigDecimal
  status: OrderStatus
  updateTime: number
  readonly trades: Array<Trade>
  /** Quantities of a MARKET order still to fill, one per later price. */
  readonly parts: Array<BigDecimal.BigDecimal>
  /** Quote (BUY) or base (SELL) still locked for it. */
  locked: BigDecimal.BigDecimal
}

export interface Balance {
  free: BigDecimal.BigDecimal
  locked: BigDecimal.BigDecimal
}

/** A rejection as Binance words it: -2010 for the matching engine's, -1013 for a filter's. */
export interface Rejection {
  readonly code: number
  readonly msg: string
}

export interface NewOrder {
  readonly symbol: string
  readonly clientOrderId: string
  readonly side: Side
  readonly type: OrderType
  readonly timeInForce: TimeInForce
  readonly quantity: BigDecimal.BigDecimal
  readonly price: BigDecimal.BigDecimal | undefined
}

const zero = BigDecimal.make(0n, 0)
const isOpen = (o: SimOrder) => o.status === "NEW" || o.status === "PARTIALLY_FILLED"

/** Splits `qty` into `n` parts on the step (the last takes the rest); fewer when the quantity has fewer steps. */
const split = (qty: BigDecimal.BigDecimal, step: BigDecimal.BigDecimal, n: number): Array<BigDecimal.BigDecimal> => {
  const ratio = BigDecimal.normalize(BigDecimal.unsafeDivide(qty, step))
  const steps = ratio.scale >= 0 ? ratio.value / 10n ** BigInt(ratio.scale) : ratio.value * 10n ** BigInt(-ratio.scale)
  const count = BigInt(Math.max(1, Math.min(n, Number(steps))))
  const each = steps / count
  const parts: Array<BigDecimal.BigDecimal> = []
  for (let i = 1n; i < count; i++) parts.push(BigDecimal.multiply(step, BigDecimal.make(each, 0)))
  parts.push(BigDecimal.subtract(qty, BigDecimal.multiply(step, BigDecimal.make(each * (count - 1n), 0))))
  return parts
}

export interface MatchingOptions {
  readonly rules: ReadonlyArray<SymbolRules>
  readonly balances: Readonly<Record<string, string>>
  /** Commission rate of every trade, maker or taker: Binance's standard 0.1%. */
  readonly commissionRate: BigDecimal.BigDecimal
  readonly onUpdate: (order: SimOrder, execution: ExecutionType, trade: Trade | undefined, time: number) => void
}

export const makeMatching = (options: MatchingOptions) => {
  const rules = new Map(options.rules.map((r) => [r.symbol, r]))
  const prices = new Map<string, BigDecimal.BigDecimal>()
  const balances = new Map<string, Balance>()
  const orders: Array<SimOrder> = []
  let nextOrderId = 1
  let nextTradeId = 1
  for (const r of options.rules) {
    for (const asset of [r.baseAsset, r.quoteAsset]) balances.set(asset, { free: zero, locked: zero })
  }
  for (const [asset, amount] of Object.entries(options.balances)) {
    balances.set(asset, { free: BigDecimal.unsafeFromString(amount), locked: zero })
  }
  const balance = (asset: string): Balance => {
    let b = balances.get(asset)
    if (b === undefined) balances.set(asset, b = { free: zero, locked: zero })
    return b
  }

  const fill = (order: SimOrder, qty: BigDecimal.BigDecimal, price: BigDecimal.BigDecimal, maker: boolean, time: number) => {
    const r = rules.get(order.symbol)!
    const quote = BigDecimal.multiply(qty, price)
    const base = balance(r.baseAsset)
    const quoteBalance = balance(r.quoteAsset)
    // what it spends comes out of what it locked first, then out of what is free
    const spend = (b: Balance, amount: BigDecimal.BigDecimal) => {
      const fromLocked = BigDecimal.min(order.locked, amount)
      order.locked = BigDecimal.subtract(order.locked, fromLocked)
      b.locked = BigDecimal.subtract(b.locked, fromLocked)
      b.free = BigDecimal.subtract(b.free, BigDecimal.subtract(amount, fromLocked))
    }
    let commission: BigDecimal.BigDecimal
    let commissionAsset: string
    if (order.side === "BUY") {
      commission = floor8(BigDecimal.multiply(qty, options.commissionRate))
      commissionAsset = r.baseAsset
      spend(quoteBalance, quote)
      base.free = BigDecimal.sum(base.free, BigDecimal.subtract(qty, commission))
    } else {
      commission = floor8(BigDecimal.multiply(quote, options.commissionRate))
      commissionAsset = r.quoteAsset
      spend(base, qty)
      quoteBalance.free = BigDecimal.sum(quoteBalance.free, BigDecimal.subtract(quote, commission))
    }
    const trade: Trade = { tradeId: nextTradeId++, price, qty, commission, commissionAsset, time, maker }
    order.trades.push(trade)
    order.executedQty = BigDecimal.sum(order.executedQty, qty)
    order.cumQuote = BigDecimal.sum(order.cumQuote, quote)
    order.status = BigDecimal.equals(order.executedQty, order.origQty) ? "FILLED" : "PARTIALLY_FILLED"
    order.updateTime = time
    if (order.status === "FILLED") release(order)
    options.onUpdate(order, "TRADE", trade, time)
  }

  const release = (order: SimOrder) => {
    const r = rules.get(order.symbol)!
    const b = balance(order.side === "BUY" ? r.quoteAsset : r.baseAsset)
    b.locked = BigDecimal.subtract(b.locked, order.locked)
    b.free = BigDecimal.sum(b.free, order.locked)
    order.locked = zero
  }

  const end = (order: SimOrder, status: "CANCELED" | "EXPIRED", time: number) => {
    order.status = status
    order.updateTime = time
    order.parts.length = 0
    release(order)
    options.onUpdate(order, status, undefined, time)
  }

  const marketable = (order: SimOrder, price: BigDecimal.BigDecimal) =>
    order.side === "BUY" ? BigDecimal.lessThanOrEqualTo(price, order.price) : BigDecimal.greaterThanOrEqualTo(price, order.price)

  return {
    rules: (symbol: string) => rules.get(symbol),
    allRules: () => [...rules.values()],
    /** The last price of a symbol. */
    price: (symbol: string) => prices.get(symbol),
    balances: () => balances as ReadonlyMap<string, Readonly<Balance>>,
    /** Every order accepted, in order: the exchange's side of "placed at most once". */
    orders: () => orders as ReadonlyArray<SimOrder>,
    openOrders: (symbol?: string) => orders.filter((o) => isOpen(o) && (symbol === undefined || o.symbol === symbol)),
    /** By orderId, or the latest order with this client id (a filled id can be used again). */
    find: (symbol: string, by: { readonly orderId?: number; readonly clientOrderId?: string }) => {
      for (let i = orders.length - 1; i >= 0; i--) {
        const o = orders[i]!
        if (o.symbol !== symbol) continue
        if (by.orderId !== undefined ? o.orderId === by.orderId : o.clientOrderId === by.clientOrderId) return o
      }
      return undefined
    },
    /** Checks, books and matches an order whose filters passed; `marketParts` splits a MARKET fill. */
    place: (n: NewOrder, time: number, marketParts: number): SimOrder | Rejection => {
      const r = rules.get(n.symbol)!
      const last = prices.get(n.symbol)!
      if (orders.some((o) => isOpen(o) && o.clientOrderId === n.clientOrderId)) {
        return { code: -2010, msg: "Duplicate order sent." }
      }
      const price = n.type === "LIMIT" ? n.price! : zero
      const lockAsset = n.side === "BUY" ? r.quoteAsset : r.baseAsset
      const lock = n.side === "SELL" ? n.quantity : BigDecimal.multiply(n.quantity, n.type === "LIMIT" ? price : last)
      const b = balance(lockAsset)
      if (BigDecimal.lessThan(b.free, lock)) {
        return { code: -2010, msg: "Account has insufficient balance for requested action." }
      }
      b.free = BigDecimal.subtract(b.free, lock)
      b.locked = BigDecimal.sum(b.locked, lock)
      const order: SimOrder = {
        symbol: n.symbol,
        orderId: nextOrderId++,
        clientOrderId: n.clientOrderId,
        side: n.side,
        type: n.type,
        timeInForce: n.timeInForce,
        price,
        origQty: n.quantity,
        time,
        executedQty: zero,
        cumQuote: zero,
        status: "NEW",
        updateTime: time,
        trades: [],
        parts: n.type === "MARKET" ? split(n.quantity, r.stepSize, marketParts) : [],
        locked: lock
      }
      orders.push(order)
      options.onUpdate(order, "NEW", undefined, time)
      if (n.type === "MARKET") fill(order, order.parts.shift()!, last, false, time)
      else if (marketable(order, last)) fill(order, n.quantity, last, false, time)
      else if (n.timeInForce !== "GTC") end(order, "EXPIRED", time)
      return order
    },
    cancel: (order: SimOrder, time: number): boolean => {
      if (!isOpen(order)) return false
      end(order, "CANCELED", time)
      return true
    },
    /** A new price: resting LIMIT orders it crosses fill at their price, MARKET orders in parts take their next part. */
    onPrice: (symbol: string, price: BigDecimal.BigDecimal, time: number) => {
      prices.set(symbol, price)
      for (const order of orders) {
        if (order.symbol !== symbol || !isOpen(order)) continue
        if (order.type === "MARKET") {
          const part = order.parts.shift()
          if (part !== undefined) fill(order, part, price, false, time)
        } else if (marketable(order, price)) {
          fill(order, BigDecimal.subtract(order.origQty, order.executedQty), order.price, true, time)
        }
      }
    }
  }
}

export type Matching = ReturnType<typeof makeMatching>
