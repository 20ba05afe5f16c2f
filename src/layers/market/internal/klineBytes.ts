import type { Row } from "../CandleFile.js"

/**
 * The fast path of Binance's 12-column kline CSV: one row read straight from the file's bytes, without a
 * string per line or per field. It takes only plain rows (unsigned integers and decimals of at most 15
 * digits, commas, an optional trailing CR) that pass every check of `CandleFile.checkRow`; anything else
 * (a header, spaces, signs, exponents, long digits, a failed check) returns false, and the caller reads
 * the line the slow way, which gives the same row or the same reason. Its numbers are the ones `Number`
 * gives for the same text: a decimal of at most 15 significant digits and 22 decimals is its integer
 * digits (exact in a double) divided by an exact power of ten, which IEEE division rounds correctly.
 */

const comma = 44
const dot = 46
const zero = 48
const cr = 13
const pow10 = Array.from({ length: 23 }, (_, i) => 10 ** i)
// below this, one more digit keeps the integer exact (under 2^53)
const exactLimit = 900_719_925_474_099

/** Where the field being read ended (at its comma or the line's end) and its value; reused, so no allocation. */
const cursor = { at: 0, value: 0 }

/** An unsigned integer ending at a comma or `end`; false when the field is anything else. */
const integer = (bytes: Uint8Array, from: number, end: number): boolean => {
  let value = 0
  let i = from
  for (; i < end; i++) {
    const c = bytes[i]!
    if (c === comma) break
    const d = c - zero
    if (d < 0 || d > 9 || value > exactLimit) return false
    value = value * 10 + d
  }
  if (i === from || value > Number.MAX_SAFE_INTEGER) return false
  cursor.at = i
  cursor.value = value
  return true
}

/** An unsigned decimal ("123", "0.00012345") ending at a comma or `end`. */
const decimal = (bytes: Uint8Array, from: number, end: number): boolean => {
  let digits = 0
  let i = from
  for (; i < end; i++) {
    const d = bytes[i]! - zero
    if (d < 0 || d > 9) break
    if (digits > exactLimit) return false
    digits = digits * 10 + d
  }
  if (i === from) return false
  let scale = 0
  if (i < end && bytes[i] === dot) {
    const start = ++i
    for (; i < end; i++) {
      const d = bytes[i]! - zero
      if (d < 0 || d > 9) break
      if (digits > exactLimit) return false
      digits = digits * 10 + d
    }
    scale = i - start
    if (scale === 0 || scale > 22) return false
  }
  if ((i < end && bytes[i] !== comma) || digits > Number.MAX_SAFE_INTEGER) return false
  cursor.at = i
  cursor.value = digits / pow10[scale]!
  return true
}

/** Past the next comma (a field not read); -1 when the line has no more. */
const skip = (bytes: Uint8Array, from: number, end: number): number => {
  const i = bytes.indexOf(comma, from)
  return i < 0 || i >= end ? -1 : i + 1
}

/** The decimal after the comma the cursor is at. */
const nextDecimal = (bytes: Uint8Array, end: number) => cursor.at < end && decimal(bytes, cursor.at + 1, end)

/** ms, accepting Binance's µs timestamps (as `CandleFile` does). */
const time = (n: number) => (n >= 1e15 ? Math.floor(n / 1000) : n)

/** A row `fastRow` fills in place: one per reader, copied into each candle (no object per row). */
export type MutableRow = { -readonly [K in keyof Row]: Row[K] }

export const makeRow = (): MutableRow => ({
  openTime: 0,
  closeTime: 0,
  open: 0,
  high: 0,
  low: 0,
  close: 0,
  volume: 0,
  quoteVolume: 0,
  trades: 0
})

/** Reads the line `bytes[start, end)` into `row`; false (the row untouched) when the slow path must read it. */
export const fastRow = (bytes: Uint8Array, start: number, end: number, row: MutableRow): boolean => {
  if (end > start && bytes[end - 1] === cr) end--
  if (!integer(bytes, start, end)) return false
  const openTime = time(cursor.value)
  if (!nextDecimal(bytes, end)) return false
  const open = cursor.value
  if (!nextDecimal(bytes, end)) return false
  const high = cursor.value
  if (!nextDecimal(bytes, end)) return false
  const low = cursor.value
  if (!nextDecimal(bytes, end)) return false
  const close = cursor.value
  if (!nextDecimal(bytes, end)) return false
  const volume = cursor.value
  if (cursor.at >= end || !integer(bytes, cursor.at + 1, end)) return false
  const closeTime = time(cursor.value)
  if (!nextDecimal(bytes, end)) return false
  const quoteVolume = cursor.value
  if (cursor.at >= end || !integer(bytes, cursor.at + 1, end)) return false
  const trades = cursor.value
  // three more fields (taker volumes, ignore), not read: the row needs them to have its 12
  let next = cursor.at + 1
  if (cursor.at >= end) return false
  for (let f = 0; f < 2; f++) {
    next = skip(bytes, next, end)
    if (next < 0) return false
  }
  // the checks of `checkRow` that plain digits do not settle already; a failure is reported by the slow path
  if (high < Math.max(open, close, low) || low > Math.min(open, close) || closeTime <= openTime) return false
  row.openTime = openTime
  row.closeTime = closeTime
  row.open = open
  row.high = high
  row.low = low
  row.close = close
  row.volume = volume
  row.quoteVolume = quoteVolume
  row.trades = trades
  return true
}
