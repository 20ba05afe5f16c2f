/** Binance's order answers (`POST`/`GET /api/v3/order`) as `OrderView`s. */
import { BigDecimal, Either, Schema } from "effect"
import type { ExecutionReport } from "./ExecutionReport.js"
import type { OrderView, Trade } from "./OrderProgress.js"

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
const decodeAnswer = Schema.decodeUnknownEither(OrderAnswer)

interface TradeJson {
  readonly id: number
  readonly price: BigDecimal.BigDecimal
  readonly qty: BigDecimal.BigDecimal
  readonly commission: BigDecimal.BigDecimal
  readonly commissionAsset: string
}

/** An order's trades in the order they executed, each with the order's executed quantity once it is counted. */
const inOrder = (trades: ReadonlyArray<TradeJson>): ReadonlyArray<Trade> => {
  let cumulative = BigDecimal.make(0n, 0)
  return trades.map((t) => {
    cumulative = BigDecimal.sum(cumulative, t.qty)
    return {
      tradeId: t.id,
      quantity: t.qty,
      price: t.price,
      commission: t.commission,
      commissionAsset: t.commissionAsset,
      cumulativeQuantity: cumulative
    }
  })
}

/** An order answer (FULL, or a query's) as a view; undefined when it is not one. */
export const viewOfAnswer = (body: unknown, now: number): OrderView | undefined => {
  const decoded = decodeAnswer(body)
  if (Either.isLeft(decoded)) return undefined
  const a = decoded.right
  const trades = inOrder((a.fills ?? []).map((f) => ({ ...f, id: f.tradeId })))
  return {
    orderId: a.orderId,
    status: a.status,
    executedQuantity: a.executedQty,
    cumulativeQuote: a.cummulativeQuoteQty,
    trades,
    time: a.transactTime ?? a.updateTime ?? now
  }
}

const MyTrades = Schema.Array(Schema.Struct({
  id: Schema.Number,
  price: Dec,
  qty: Dec,
  commission: Dec,
  commissionAsset: Schema.String
}))
const decodeTrades = Schema.decodeUnknownEither(MyTrades)

/** `GET /api/v3/myTrades?orderId=` as the order's trades, oldest first; undefined when it is not that. */
export const tradesOfAnswer = (body: unknown): ReadonlyArray<Trade> | undefined => {
  const decoded = decodeTrades(body)
  if (Either.isLeft(decoded)) return undefined
  return inOrder([...decoded.right].sort((a, b) => a.id - b.id))
}

/** The answer's `clientOrderId`, for the open orders a reconciliation lists. */
export const OpenOrders = Schema.Array(Schema.Struct({ clientOrderId: Schema.String, symbol: Schema.String, status: Schema.String }))

/** Which order a report is about: a cancel's `clientOrderId` is the cancel request's, the order's is `origClientOrderId`. */
export const orderIdOfReport = (r: ExecutionReport): string =>
  r.executionType === "CANCELED" && r.origClientOrderId !== undefined && r.origClientOrderId !== "" ? r.origClientOrderId : r.clientOrderId

/** An `executionReport` as a view: a TRADE carries its one trade. */
export const viewOfReport = (r: ExecutionReport): OrderView => ({
  orderId: r.orderId,
  status: r.status,
  executedQuantity: r.cumulativeQuantity,
  cumulativeQuote: r.cumulativeQuote,
  trades: r.executionType === "TRADE"
    ? [{
      tradeId: r.tradeId,
      quantity: r.lastQuantity,
      price: r.lastPrice,
      commission: r.commission,
      commissionAsset: r.commissionAsset,
      cumulativeQuantity: r.cumulativeQuantity
    }]
    : [],
  time: r.transactTime,
  ...(r.rejectReason === undefined || r.rejectReason === "NONE" ? {} : { reason: r.rejectReason })
})
