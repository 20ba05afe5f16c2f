import { Schema } from "effect"

export const SignalDirection = Schema.Literal("LONG", "SHORT", "CLOSE")
export type SignalDirection = typeof SignalDirection.Type

/** A strategy's opinion about a symbol, with the price it saw and why. */
export const Signal = Schema.Struct({
  symbol: Schema.String,
  direction: SignalDirection,
  price: Schema.Number,
  strategy: Schema.String,
  reason: Schema.String,
  timestamp: Schema.Number
})
export interface Signal extends Schema.Schema.Type<typeof Signal> {}
