import { Effect, Layer, Option } from "effect"
import { formatDecimal } from "../../domain/Decimal.js"
import type { Fill } from "../../domain/Order.js"
import { Journal, type JournalError } from "../../services/Journal.js"
import { Portfolio } from "../../services/Portfolio.js"
import { fillKey, fillsOf } from "./JournalState.js"

/**
 * Rebuilds the Portfolio it wraps from the journal as it is built: every distinct journaled fill, done or
 * pending, is applied in append order, so positions (and the risk limits computed from them) survive a
 * restart. It is then idempotent on fills (clientOrderId, tradeId, filledAt): a pending fill that recovery
 * publishes again, or a dead letter's fill retried, is not applied twice. Build it before the order manager
 * and before `JournalRecovery`. Without a Journal in the context it is the wrapped Portfolio unchanged.
 */
export const layer: Layer.Layer<Portfolio, JournalError, Portfolio> = Layer.effect(
  Portfolio,
  Effect.gen(function*() {
    const inner = yield* Portfolio
    const journal = yield* Effect.serviceOption(Journal)
    if (Option.isNone(journal)) return inner
    const fills = fillsOf(yield* journal.value.orderEvents)
    const applied = new Set<string>()
    for (const fill of fills) {
      applied.add(fillKey(fill))
      yield* inner.applyFill(fill)
    }
    if (fills.length > 0) {
      const positions = (yield* inner.positions).map((p) => `${p.symbol} ${formatDecimal(p.quantity)}`).join(", ")
      yield* Effect.logInfo(`journal ${journal.value.location}: positions restored from ${fills.length} journaled fills: ${positions}`)
        .pipe(Effect.annotateLogs({ fills: fills.length }))
    }
    const unsafe = inner.unsafe
    const unsafeApply = unsafe?.applyFill
    return Portfolio.of({
      ...inner,
      applyFill: (fill) =>
        Effect.suspend(() => {
          const key = fillKey(fill)
          if (!applied.has(key)) {
            applied.add(key)
            return inner.applyFill(fill)
          }
          // already in the position: its current state, as applyFill would return it
          return Effect.flatMap(inner.position(fill.symbol), (position) =>
            position === undefined ? inner.applyFill(fill) : Effect.succeed(position))
        }),
      // the synchronous form keeps the same check: without it a fill recovered twice would count twice
      ...(unsafe === undefined ? {} : {
        unsafe: {
          ...unsafe,
          ...(unsafeApply === undefined ? {} : {
            applyFill: (fill: Fill) => {
              const key = fillKey(fill)
              if (!applied.has(key)) {
                applied.add(key)
                return unsafeApply(fill)
              }
              return unsafe.position(fill.symbol) ?? unsafeApply(fill)
            }
          })
        }
      })
    })
  })
)
