import { Schema } from "effect"
import { Decimal } from "./Decimal.js"

/**
 * A net position in one symbol: positive quantity is long, negative short.
 * P&L is in the quote asset, fees included in `realizedPnl`.
 */
export const Position = Schema.Struct({
  symbol: Schema.String,
  quantity: Decimal,
  averageEntryPrice: Decimal,
  markPrice: Decimal,
  realizedPnl: Decimal,
  unrealizedPnl: Decimal,
  updatedAt: Schema.Number
})
export interface Position extends Schema.Schema.Type<typeof Position> {}
