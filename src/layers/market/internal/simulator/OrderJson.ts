/**
 * Binance's JSON shapes for orders: the new-order responses (ACK, RESULT,
 * FULL), query and cancel responses, and the user data stream's
 * `executionReport` and `outboundAccountPosition` events.
 */
import { BigDecimal } from "effect"
import type { Balance, ExecutionType, SimOrder, Trade } from "./Matching.js"
import { fixed8 } from "./SymbolRules.js"

const zero8 = "0.00000000"
const isOpen = (o: SimOrder) => o.status === "NEW" || o.status === "PARTIALLY_FILLED"

export const ackJson = (o: SimOrder, transactTime: number) => ({
  symbol: o.symbol,
  orderId: o.orderId,
  orderListId: -1,
  clientOrderId: o.clientOrderId,
  transactTime
})

const amounts = (o: SimOrder) => ({
  price: fixed8(o.price),
  origQty: fixed8(o.origQty),
  executedQty: fixed8(o.executedQty),
  origQuoteOrderQty: zero8,
  cummulativeQuoteQty: fixed8(o.cumQuote),
  status: o.status,
  timeInForce: o.timeInForce,
  type: o.type,
  side: o.side
})

export const resultJson = (o: SimOrder, transactTime: number) => ({
  ...ackJson(o, transactTime),
  ...amounts(o),
  workingTime: o.time,
  selfTradePreventionMode: "NONE"
})

/** FULL: RESULT with the trades made while placing it. */
export const fullJson = (o: SimOrder, transactTime: number, trades: ReadonlyArray<Trade>) => ({
  ...resultJson(o, transactTime),
  fills: trades.map((t) => ({
    price: fixed8(t.price),
    qty: fixed8(t.qty),
    commission: fixed8(t.commission),
    commissionAsset: t.commissionAsset,
    tradeId: t.tradeId
  }))
})

/** `GET /api/v3/order` and each entry of `GET /api/v3/openOrders`. */
export const queryJson = (o: SimOrder) => ({
  symbol: o.symbol,
  orderId: o.orderId,
  orderListId: -1,
  clientOrderId: o.clientOrderId,
  ...amounts(o),
  stopPrice: zero8,
  icebergQty: zero8,
  time: o.time,
  updateTime: o.updateTime,
  isWorking: isOpen(o),
  workingTime: o.time,
  selfTradePreventionMode: "NONE"
})

export const cancelJson = (o: SimOrder, cancelClientOrderId: string, transactTime: number) => ({
  symbol: o.symbol,
  origClientOrderId: o.clientOrderId,
  orderId: o.orderId,
  orderListId: -1,
  clientOrderId: cancelClientOrderId,
  transactTime,
  ...amounts(o),
  selfTradePreventionMode: "NONE"
})

/**
 * An `executionReport` (user-data-stream.md). On a cancel, `c` is the cancel's own client id and `C` the order's,
 * as Binance sends them.
 */
export const executionReport = (
  o: SimOrder,
  execution: ExecutionType,
  trade: Trade | undefined,
  eventTime: number,
  executionId: number,
  cancelClientOrderId: string | undefined
) => ({
  e: "executionReport",
  E: eventTime,
  s: o.symbol,
  c: cancelClientOrderId ?? o.clientOrderId,
  S: o.side,
  o: o.type,
  f: o.timeInForce,
  q: fixed8(o.origQty),
  p: fixed8(o.price),
  P: zero8,
  F: zero8,
  g: -1,
  C: cancelClientOrderId === undefined ? "" : o.clientOrderId,
  x: execution,
  X: o.status,
  r: "NONE",
  i: o.orderId,
  l: trade === undefined ? zero8 : fixed8(trade.qty),
  z: fixed8(o.executedQty),
  L: trade === undefined ? zero8 : fixed8(trade.price),
  n: trade === undefined ? "0" : fixed8(trade.commission),
  N: trade === undefined ? null : trade.commissionAsset,
  T: trade?.time ?? o.updateTime,
  t: trade?.tradeId ?? -1,
  I: executionId,
  w: isOpen(o) && o.type === "LIMIT",
  m: trade?.maker ?? false,
  M: false,
  O: o.time,
  Z: fixed8(o.cumQuote),
  Y: trade === undefined ? zero8 : fixed8(BigDecimal.multiply(trade.qty, trade.price)),
  Q: zero8,
  W: o.time,
  V: "NONE"
})

export const accountPosition = (eventTime: number, balances: ReadonlyArray<readonly [string, Balance]>) => ({
  e: "outboundAccountPosition",
  E: eventTime,
  u: eventTime,
  B: balances.map(([a, b]) => ({ a, f: fixed8(b.free), l: fixed8(b.locked) }))
})

/** One trade of an order as `GET /api/v3/myTrades` lists it. */
export const tradeJson = (o: SimOrder, t: Trade) => ({
  symbol: o.symbol,
  id: t.tradeId,
  orderId: o.orderId,
  orderListId: -1,
  price: fixed8(t.price),
  qty: fixed8(t.qty),
  quoteQty: fixed8(BigDecimal.multiply(t.qty, t.price)),
  commission: fixed8(t.commission),
  commissionAsset: t.commissionAsset,
  time: t.time,
  isBuyer: o.side === "BUY",
  isMaker: t.maker,
  isBestMatch: true
})
