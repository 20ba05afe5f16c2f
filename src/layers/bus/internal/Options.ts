import { BigDecimal, Effect, Option } from "effect"

/** Why a setting was refused: what the config errors of the trading layers carry. */
export interface SettingProblem {
  readonly setting: string
  readonly value: unknown
  readonly reason: string
}

/** A checker returns the value or the problem with it; the layer turns the problem into its own typed error. */
export type Check<A> = Effect.Effect<A, SettingProblem>

const problem = (setting: string, value: unknown, reason: string): Check<never> =>
  Effect.fail({ setting, value, reason })

/** A whole number at least `min`. */
export const wholeNumber = (setting: string, value: number, min: number): Check<number> =>
  Number.isSafeInteger(value) && value >= min
    ? Effect.succeed(value)
    : problem(setting, value, `must be a whole number >= ${min}`)

/** A finite number at least 0 (basis points and the like). */
export const nonNegativeNumber = (setting: string, value: number): Check<number> =>
  Number.isFinite(value) && value >= 0 ? Effect.succeed(value) : problem(setting, value, "must be a number >= 0")

/** A decimal given as a `BigDecimal`, a decimal string ("100.5") or a number; must be > 0. */
export const positiveDecimal = (
  setting: string,
  value: BigDecimal.BigDecimal | string | number
): Check<BigDecimal.BigDecimal> => {
  const parsed = BigDecimal.isBigDecimal(value)
    ? Option.some(value)
    : typeof value === "number"
    ? (Number.isFinite(value) ? BigDecimal.fromString(String(value)) : Option.none())
    : BigDecimal.fromString(value)
  return Option.isSome(parsed) && BigDecimal.isPositive(parsed.value)
    ? Effect.succeed(BigDecimal.normalize(parsed.value))
    : problem(setting, BigDecimal.isBigDecimal(value) ? BigDecimal.format(value) : value, "must be a decimal > 0")
}

const tenThousand = BigDecimal.fromBigInt(10_000n)

/** Basis points as an exact fraction: 10 bps -> 0.001. */
export const bpsFraction = (bps: number): BigDecimal.BigDecimal =>
  BigDecimal.normalize(BigDecimal.unsafeDivide(BigDecimal.unsafeFromString(String(bps)), tenThousand))
