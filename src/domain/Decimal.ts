import { BigDecimal, Schema } from "effect"

/**
 * An exact decimal, encoded as a string ("0.00012345"): what prices and
 * quantities bound for an exchange are made of. Never a binary float.
 */
export const Decimal = Schema.BigDecimal
export type Decimal = BigDecimal.BigDecimal

const safe = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * `BigDecimal.normalize` (no trailing zeros) that answers most decimals with one remainder: Effect's writes the
 * value's digits out as a string to count its zeros, on every decimal it has not normalized before.
 */
export const normalize = (d: BigDecimal.BigDecimal): BigDecimal.BigDecimal =>
  d.value === 0n ? (d.scale === 0 ? d : BigDecimal.normalize(d)) : d.value % 10n !== 0n ? d : BigDecimal.normalize(d)

/**
 * A decimal as the nearest number, as `BigDecimal.unsafeToNumber` gives it, at a fraction of its cost when the
 * digits fit a double exactly: then one division (correctly rounded) gives the same number as its string would.
 * For curves and gauges, read on every candle; money itself stays a decimal.
 */
export const toNumber = (d: BigDecimal.BigDecimal): number =>
  d.scale >= 0 && d.scale <= 22 && d.value <= safe && d.value >= -safe
    ? Number(d.value) / 10 ** d.scale
    // more digits: parsed from its digits and exponent, which JavaScript rounds correctly, as it does the string
    // `unsafeToNumber` writes first (a quarter of its cost: no formatting)
    : Number(`${d.value}e${-d.scale}`)

/**
 * `toNumber` remembering its last decimal: for a value read every candle that changes only now and then
 * (realized P&L, a position's quantity change at fills), each change is converted once.
 */
export const lastToNumber = (): ((d: BigDecimal.BigDecimal) => number) => {
  let last: BigDecimal.BigDecimal | undefined
  let number = 0
  return (d) => {
    if (d !== last) {
      last = d
      number = toNumber(d)
    }
    return number
  }
}

// powers of ten as bigints, made once: Effect's arithmetic raises 10n to a power on every change of scale
const bigPowers = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i))
const bigPower = (k: number) => k < bigPowers.length ? bigPowers[k]! : 10n ** BigInt(k)

/**
 * `a + b` at the larger scale (Effect's `sum` may keep the smaller when one is zero: the same number). For values
 * read every candle; normalize before storing.
 */
export const add = (a: BigDecimal.BigDecimal, b: BigDecimal.BigDecimal): BigDecimal.BigDecimal =>
  a.scale === b.scale
    ? BigDecimal.make(a.value + b.value, a.scale)
    : a.scale > b.scale
    ? BigDecimal.make(a.value + b.value * bigPower(a.scale - b.scale), a.scale)
    : BigDecimal.make(a.value * bigPower(b.scale - a.scale) + b.value, b.scale)

/** `a - b` at the larger scale, as `add`. */
export const subtract = (a: BigDecimal.BigDecimal, b: BigDecimal.BigDecimal): BigDecimal.BigDecimal =>
  add(a, BigDecimal.make(-b.value, b.scale))

/**
 * `num / den` to `scale` decimals, rounded down (`floor`) or half-even, in integer arithmetic: exact, and a
 * fraction of the cost of `BigDecimal.unsafeDivide` (which works out 100 digits) followed by a rounding.
 * `den` must not be zero.
 */
export const divideToScale = (
  num: BigDecimal.BigDecimal,
  den: BigDecimal.BigDecimal,
  scale: number,
  mode: "floor" | "half-even"
): BigDecimal.BigDecimal => {
  // num / den = (a / 10^sa) / (b / 10^sb); times 10^scale: a * 10^(sb - sa + scale) / b
  const shift = den.scale - num.scale + scale
  let a = shift >= 0 ? num.value * bigPower(shift) : num.value
  let b = shift >= 0 ? den.value : den.value * bigPower(-shift)
  if (b < 0n) [a, b] = [-a, -b]
  let q = a / b
  const r = a % b
  if (r !== 0n) {
    if (mode === "floor") {
      if (a < 0n) q -= 1n
    } else {
      // compare the remainder's double with the divisor: above half rounds away from zero, a tie to even
      const twice = (r < 0n ? -r : r) * 2n
      if (twice > b || (twice === b && (q & 1n) !== 0n)) q += a < 0n ? -1n : 1n
    }
  }
  return normalize(BigDecimal.make(q, scale))
}

const powersOfTen = Array.from({ length: 16 }, (_, i) => 10 ** i)
const maxDigits = 1e15

/**
 * The decimal behind a market-data number: the one its shortest round-trip string (`String(n)`) writes. A number
 * of at most 15 significant digits and 15 decimals (every price and quantity a market sends) is found without the
 * string: the fewest decimals `s` whose `m / 10^s` gives the number back. At 15 digits or fewer only one such `m`
 * exists at that `s`, so it is the string's; any other number goes through the string.
 */
export const decimalFromNumber = (n: number): BigDecimal.BigDecimal => {
  if (n > -maxDigits && n < maxDigits) {
    for (let s = 0; s < powersOfTen.length; s++) {
      const scaled = Math.round(n * powersOfTen[s]!)
      if (scaled > -maxDigits && scaled < maxDigits) {
        if (scaled / powersOfTen[s]! === n) return BigDecimal.make(BigInt(scaled), s)
      } else break
    }
  }
  return BigDecimal.unsafeFromString(String(n))
}

/**
 * A decimal as the plain string an exchange and a journal expect, whatever
 * its scale ("0.000000000000000001", never "1e-18" as `BigDecimal.format` gives past 15 decimals).
 */
export const formatDecimal = (d: BigDecimal.BigDecimal): string => {
  const { scale, value } = BigDecimal.normalize(d)
  if (scale <= 0) return (value * 10n ** BigInt(-scale)).toString()
  const negative = value < 0n
  const digits = (negative ? -value : value).toString().padStart(scale + 1, "0")
  const point = digits.length - scale
  return `${negative ? "-" : ""}${digits.slice(0, point)}.${digits.slice(point)}`
}

/**
 * An amount as people read it: rounded half-even to at most `decimals` places (8 by default, the quote asset's
 * precision on Binance), trailing zeros dropped ("-28.25367904", "0.1"). Text and HTML only: JSON keeps
 * `formatDecimal`'s exact string.
 */
export const formatAmount = (d: BigDecimal.BigDecimal | string, decimals = 8): string =>
  formatDecimal(
    BigDecimal.round(typeof d === "string" ? BigDecimal.unsafeFromString(d) : d, {
      scale: Math.max(0, Math.floor(decimals)),
      mode: "half-even"
    })
  )
