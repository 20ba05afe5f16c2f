import { Schema } from "effect"

/**
 * The messages between a sweep and its worker threads. A Layer cannot cross a thread: only this plain data
 * does, Schema-encoded. The first message (the pool's `initialMessage`) says what every combination shares;
 * each `RunCombination` then names one combination's parameters.
 */

/** A grid value: a number (`--fast 5:20:5`), or a text given as is (`--param mode=fast`). */
export const ParamValue = Schema.Union(Schema.Number, Schema.String)
export type ParamValue = typeof ParamValue.Type

export const Params = Schema.Record({ key: Schema.String, value: ParamValue })
export type Params = typeof Params.Type

/** A report crosses as its JSON fields: every one is a number, a string, a boolean or null. */
const ReportFields = Schema.Record({ key: Schema.String, value: Schema.Union(Schema.Number, Schema.String, Schema.Boolean, Schema.Null) })

const optionalString = Schema.optionalWith(Schema.String, { exact: true })
const optionalNumber = Schema.optionalWith(Schema.Number, { exact: true })

/** Once per worker: read the candle file and load the strategy; what every combination shares. */
export class InitialMessage extends Schema.TaggedRequest<InitialMessage>()("InitialMessage", {
  failure: Schema.Never,
  success: Schema.Void,
  payload: {
    candles: Schema.String,
    symbol: optionalString,
    interval: optionalString,
    strict: Schema.Boolean,
    /** "sma", "none", or the absolute path of a strategy module. */
    strategy: Schema.String,
    capital: optionalString,
    fill: Schema.Literal("next-open", "close"),
    lockstep: Schema.Boolean,
    chunkSize: optionalNumber,
    quoteAmount: optionalString,
    maxPositionNotional: optionalString,
    maxOpenOrders: optionalNumber,
    allowShort: Schema.Boolean,
    feeBps: optionalNumber,
    slippageBps: optionalNumber
  }
}) {}

/** A combination that failed to run: its reason, and the setting to blame when it is a setting's. */
export class CombinationFailed extends Schema.TaggedError<CombinationFailed>()("CombinationFailed", {
  reason: Schema.String,
  setting: optionalString,
  value: optionalString,
  /** The error's own tag ("CandleFileError", "BacktestConfigError", ...). */
  tag: Schema.String
}) {}

/** A combination's outcome: its report, or why the strategy refused its parameters. */
export const Outcome = Schema.Union(
  Schema.TaggedStruct("Ran", { report: ReportFields }),
  Schema.TaggedStruct("Skipped", { reason: Schema.String })
)
export type Outcome = typeof Outcome.Type

/** Run one combination in the worker, on the candles it already read. */
export class RunCombination extends Schema.TaggedRequest<RunCombination>()("RunCombination", {
  failure: CombinationFailed,
  success: Outcome,
  payload: { params: Params }
}) {}

export const SweepRequest = Schema.Union(InitialMessage, RunCombination)
export type SweepRequest = typeof SweepRequest.Type
