/**
 * At start, with an exchange's account: the positions the journal rebuilt
 * checked against the account's balances, before the source starts (so
 * before any new order). Where the account holds less of a symbol's base
 * asset than the position, the exchange's figure wins: said as an `Error`
 * event (counted in the summary) and corrected by a reconciliation fill of
 * the difference at the position's average entry price (no P&L), journaled
 * like any fill, so that risk checks size from what the account holds.
 */
import { BigDecimal, Clock, Effect, Layer, Option } from "effect"
import { formatDecimal } from "../../../domain/Decimal.js"
import { makeEventAt } from "../../../domain/BusEvent.js"
import { type Fill, makeRunTag } from "../../../domain/Order.js"
import { EventBus } from "../../../services/EventBus.js"
import { ExchangeAccount } from "../../../services/ExchangeAccount.js"
import { Portfolio } from "../../../services/Portfolio.js"

const source = "reconciliation"

export const layer: Layer.Layer<never, never, EventBus | Portfolio> = Layer.effectDiscard(Effect.gen(function*() {
  const account = yield* Effect.serviceOption(ExchangeAccount)
  if (Option.isNone(account)) return
  const bus = yield* EventBus
  const portfolio = yield* Portfolio
  const publish = (event: Parameters<typeof bus.publish>[0]) =>
    bus.publish(event).pipe(Effect.catchAllCause((cause) => Effect.logError("cannot publish the reconciliation", cause)))
  const report = (message: string) =>
    Effect.zipRight(
      Effect.logWarning(message).pipe(Effect.annotateLogs({ component: source })),
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        publish(makeEventAt("Error", { component: source, message, cause: message }, now, { source })))
    )
  const balances = yield* Effect.either(account.value.balances)
  if (balances._tag === "Left") return yield* report(`${balances.left.message}: the positions are not checked against it`)
  const runTag = makeRunTag()
  for (const position of yield* portfolio.positions) {
    if (!BigDecimal.isPositive(position.quantity)) continue
    const assets = account.value.assetsOf(position.symbol)
    if (assets === undefined) continue
    const balance = balances.right.get(assets.base)
    const held = balance === undefined ? BigDecimal.make(0n, 0) : BigDecimal.sum(balance.free, balance.locked)
    if (!BigDecimal.lessThan(held, position.quantity)) continue
    const missing = BigDecimal.normalize(BigDecimal.subtract(position.quantity, held))
    yield* report(
      `${position.symbol}: the journal holds ${formatDecimal(position.quantity)} ${assets.base}, the account at ${account.value.location} ${
        formatDecimal(held)
      }: the exchange's figure wins (a reconciliation fill sells ${formatDecimal(missing)} at the average entry price ${
        formatDecimal(position.averageEntryPrice)
      }, no P&L)`
    )
    const now = yield* Clock.currentTimeMillis
    const id = `reconcile-${runTag}-${position.symbol}`
    const fill: Fill = {
      clientOrderId: id,
      tradeId: id,
      symbol: position.symbol,
      side: "SELL",
      type: "MARKET",
      quantity: missing,
      price: position.averageEntryPrice,
      fee: BigDecimal.make(0n, 0),
      status: "FILLED",
      orderCreatedAt: now,
      filledAt: now
    }
    yield* publish(makeEventAt("OrderFilled", fill, now, { source }))
  }
}))
