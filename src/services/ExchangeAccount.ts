import { Context, Data, type Effect } from "effect"
import type { Decimal } from "../domain/Decimal.js"

/** One asset's balance on the exchange. */
export interface Balance {
  readonly asset: string
  readonly free: Decimal
  readonly locked: Decimal
}

/** The account a live broker trades for: what the exchange holds, to check the portfolio against at start. */
export class ExchangeAccount extends Context.Tag("trading-bus/ExchangeAccount")<ExchangeAccount, {
  /** Where, for messages (a REST URL). */
  readonly location: string
  /** The symbol's base and quote assets, when the exchange lists the symbol. */
  readonly assetsOf: (symbol: string) => { readonly base: string; readonly quote: string } | undefined
  /** The account's balances now, by asset. */
  readonly balances: Effect.Effect<ReadonlyMap<string, Balance>, ExchangeAccountError>
}>() {}

/** The account could not be read. */
export class ExchangeAccountError extends Data.TaggedError("ExchangeAccountError")<{
  readonly location: string
  readonly reason: string
}> {
  override get message() {
    return `cannot read the account at ${this.location}: ${this.reason}`
  }
}
