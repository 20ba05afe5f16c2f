/**
 * What the WebSocket API sends a user-data client: the `executionReport`
 * event (user-data-stream.md) decoded into readable names and BigDecimals,
 * the other pushed events by their type, and the answers to requests.
 */
import { Data, Either, Schema } from "effect"
import { parseReason } from "../../../../domain/ParseReason.js"

const Dec = Schema.BigDecimal

/** Binance sends `-1` for "no trade" and `""` for "no original order": absent here. */
const noneAs = <A extends string | number>(none: A, schema: Schema.Schema<A>) =>
  Schema.transform(schema, Schema.UndefinedOr(schema), {
    strict: true,
    decode: (a) => (a === none ? undefined : a),
    encode: (a) => a ?? none
  })

const ExecutionType = Schema.Literal(
  "NEW",
  "CANCELED",
  "REPLACED",
  "REJECTED",
  "TRADE",
  "EXPIRED",
  "TRADE_PREVENTION",
  "AMENDMENT"
)
const OrderStatus = Schema.Literal(
  "NEW",
  "PENDING_NEW",
  "PARTIALLY_FILLED",
  "FILLED",
  "CANCELED",
  "PENDING_CANCEL",
  "REJECTED",
  "EXPIRED",
  "EXPIRED_IN_MATCH"
)

/** The event as sent, with the fields this project reads; the others are ignored. */
const ExecutionReportJson = Schema.Struct({
  e: Schema.Literal("executionReport"),
  E: Schema.Number,
  s: Schema.String,
  c: Schema.String,
  C: Schema.optionalWith(noneAs("", Schema.String), { default: () => undefined }),
  S: Schema.Literal("BUY", "SELL"),
  o: Schema.String,
  q: Dec,
  p: Dec,
  x: ExecutionType,
  X: OrderStatus,
  r: Schema.String,
  i: Schema.Number,
  l: Dec,
  z: Dec,
  L: Dec,
  n: Dec,
  N: Schema.transform(Schema.NullOr(Schema.String), Schema.UndefinedOr(Schema.String), {
    strict: true,
    decode: (n) => n ?? undefined,
    encode: (n) => n ?? null
  }),
  T: Schema.Number,
  t: noneAs(-1, Schema.Number),
  Z: Dec
})

export const ExecutionReport = Schema.rename(ExecutionReportJson, {
  e: "event",
  E: "eventTime",
  s: "symbol",
  c: "clientOrderId",
  C: "origClientOrderId",
  S: "side",
  o: "orderType",
  q: "quantity",
  p: "price",
  x: "executionType",
  X: "status",
  r: "rejectReason",
  i: "orderId",
  l: "lastQuantity",
  z: "cumulativeQuantity",
  L: "lastPrice",
  n: "commission",
  N: "commissionAsset",
  T: "transactTime",
  t: "tradeId",
  Z: "cumulativeQuote"
})

/**
 * One order update. On a cancel `clientOrderId` is the cancel request's own
 * id and `origClientOrderId` the order's; `tradeId` and `commissionAsset` are
 * set on trades only.
 */
export type ExecutionReport = typeof ExecutionReport.Type
export type ExecutionType = typeof ExecutionType.Type
export type OrderStatus = typeof OrderStatus.Type

/** A frame that is not what the WebSocket API sends. `sample` is the frame's start, for the log. */
export class UserDataFrameError extends Data.TaggedError("UserDataFrameError")<{
  readonly reason: string
  readonly sample: string
}> {
  override get message() {
    return `malformed user-data frame (${this.reason}): ${this.sample}`
  }
}

export type UserDataFrame =
  /** A pushed executionReport. */
  | { readonly _tag: "Report"; readonly subscriptionId: number; readonly report: ExecutionReport }
  /** Any other pushed event: outboundAccountPosition, balanceUpdate, eventStreamTerminated... */
  | { readonly _tag: "OtherEvent"; readonly subscriptionId: number; readonly eventType: string }
  /** The answer to a request: `result`, or Binance's error code and message. */
  | {
    readonly _tag: "Response"
    readonly id: string | number | null
    readonly status: number
    readonly result: unknown
    readonly error: { readonly code: number; readonly msg: string } | undefined
  }

const Push = Schema.Struct({
  subscriptionId: Schema.Number,
  event: Schema.Struct({ e: Schema.String })
})
const Response = Schema.Struct({
  id: Schema.Union(Schema.String, Schema.Number, Schema.Null),
  status: Schema.Number,
  result: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.Struct({ code: Schema.Number, msg: Schema.String }))
})
const decodePushEnvelope = Schema.decodeUnknownEither(Push)
const decodeReportEvent = Schema.decodeUnknownEither(ExecutionReport)
const decodeResponse = Schema.decodeUnknownEither(Response)

/** How much of a malformed frame the log shows. */
const sampleLength = 200
const sampleOf = (text: string) => (text.length > sampleLength ? `${text.slice(0, sampleLength)}…` : text)

/** Decodes a pushed `{ subscriptionId, event }` (already parsed JSON). */
export const decodePush = (json: unknown, sample = ""): Either.Either<UserDataFrame, UserDataFrameError> => {
  const fail = (reason: string) => Either.left(new UserDataFrameError({ reason, sample }))
  const envelope = decodePushEnvelope(json)
  if (Either.isLeft(envelope)) return fail(parseReason(envelope.left))
  const { event, subscriptionId } = envelope.right
  if (event.e !== "executionReport") return Either.right({ _tag: "OtherEvent", subscriptionId, eventType: event.e })
  // the envelope's decoding kept only `e`: decode the event as sent
  const report = decodeReportEvent((json as { readonly event: unknown }).event)
  if (Either.isLeft(report)) return fail(`executionReport: ${parseReason(report.left)}`)
  return Either.right({ _tag: "Report", subscriptionId, report: report.right })
}

/** Decodes one text frame of the WebSocket API: a pushed event or the answer to a request. */
export const decodeFrame = (text: string): Either.Either<UserDataFrame, UserDataFrameError> => {
  const sample = sampleOf(text)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left(new UserDataFrameError({ reason: "not JSON", sample }))
  }
  if (typeof json === "object" && json !== null && "event" in json) return decodePush(json, sample)
  const response = decodeResponse(json)
  if (Either.isLeft(response)) {
    return Either.left(new UserDataFrameError({ reason: parseReason(response.left), sample }))
  }
  const { error, id, result, status } = response.right
  return Either.right({ _tag: "Response", id, status, result, error })
}
