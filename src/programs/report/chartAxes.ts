/**
 * The data and axes of the report charts: finite points in time order, downsampling that keeps the extremes,
 * round value ticks and UTC time ticks. Pure functions; the same input always gives the same text.
 */
/** A point of a series: time (epoch ms) and value. */
export type Point = readonly [number, number]

/** At most this many points are drawn per series. */
export const MAX_POINTS = 1500
/** Largest |epoch ms| a `Date` accepts; beyond it `toISOString` throws. */
export const MAX_TIME = 8.64e15

/** Values beyond this are left out, as non-finite ones are (the axis arithmetic would overflow). */
export const MAX_VALUE = 1e300

/** The finite points, in time order (a stable sort, only when needed). */
export const cleanPoints = (points: ReadonlyArray<Point>): ReadonlyArray<Point> => {
  const out: Array<Point> = []
  let sorted = true
  for (const p of points) {
    const t = p[0]
    const v = p[1]
    if (typeof t !== "number" || typeof v !== "number") continue
    if (!(Math.abs(t) <= MAX_TIME) || !(Math.abs(v) <= MAX_VALUE)) continue
    if (out.length > 0 && t < out[out.length - 1]![0]) sorted = false
    out.push(p)
  }
  return sorted ? out : out.sort((a, b) => a[0] - b[0])
}

/**
 * At most `max` points keeping the shape: the first and the last point, and the minimum and the maximum of each of
 * `(max - 2) / 2` equal buckets of the points in between, in their original order. Deterministic.
 */
export const downsample = (points: ReadonlyArray<Point>, max: number = MAX_POINTS): ReadonlyArray<Point> => {
  const n = points.length
  if (n <= max) return points
  if (max < 4) return [points[0]!, points[n - 1]!]
  const buckets = Math.floor((max - 2) / 2)
  const inner = n - 2
  const out: Array<Point> = [points[0]!]
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor((b * inner) / buckets)
    const to = 1 + Math.floor(((b + 1) * inner) / buckets) // exclusive
    if (from >= to) continue
    let lo = from
    let hi = from
    for (let i = from + 1; i < to; i++) {
      if (points[i]![1] < points[lo]![1]) lo = i
      if (points[i]![1] > points[hi]![1]) hi = i
    }
    if (lo === hi) out.push(points[lo]!)
    else if (lo < hi) out.push(points[lo]!, points[hi]!)
    else out.push(points[hi]!, points[lo]!)
  }
  out.push(points[n - 1]!)
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// numbers

const formatters = new Map<number, Intl.NumberFormat>()
const formatter = (decimals: number): Intl.NumberFormat => {
  let f = formatters.get(decimals)
  if (f === undefined) {
    f = new Intl.NumberFormat("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    formatters.set(decimals, f)
  }
  return f
}

const fixed = (v: number, decimals: number): string => {
  const d = Math.min(20, Math.max(0, decimals))
  const text = formatter(d).format(v)
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text
}

/** A value with sensible precision: 2 decimals from 1000, 4 from 1, else 4 significant digits. */
export const formatValue = (v: number): string => {
  if (!Number.isFinite(v)) return "–"
  const a = Math.abs(v)
  if (a === 0) return "0"
  if (a >= 1e15 || a < 1e-12) return v.toExponential(3)
  const decimals = a >= 1000 ? 2 : a >= 1 ? 4 : 3 - Math.floor(Math.log10(a))
  return fixed(v, decimals).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "")
}

/** A step of 1, 2, 2.5 or 5 times a power of ten near `span / target`, with the decimals its multiples need. */
const niceStep = (span: number, target: number): { readonly step: number; readonly decimals: number } => {
  const raw = span / Math.max(1, target)
  let e = Math.floor(Math.log10(raw))
  const f = raw / Math.pow(10, e)
  let m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10
  if (m === 10) {
    m = 1
    e += 1
  }
  return { step: m * Math.pow(10, e), decimals: Math.max(0, -e + (m === 2.5 ? 1 : 0)) }
}

export interface ValueAxis {
  readonly min: number
  readonly max: number
  readonly ticks: ReadonlyArray<number>
  readonly labels: ReadonlyArray<string>
}

/** Ticks at multiples of 1, 2, 2.5 or 5 times a power of ten, the domain widened to whole steps. */
export const valueAxis = (lo: number, hi: number, target = 5): ValueAxis => {
  if (!(hi - lo > Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12 && hi - lo > 1e-300)) {
    // flat (or nearly): a band around the value; all zero (an idle queue, no P&L yet): 0 to 1, not into negatives
    const pad = Math.abs(lo) < 1e-290 ? 1 : Math.abs(lo) * 0.05
    if (Math.abs(lo) >= 1e-290) lo -= pad
    hi += pad
  }
  const { step, decimals } = niceStep(hi - lo, target)
  const min = Math.floor(lo / step + 1e-9) * step
  const max = Math.ceil(hi / step - 1e-9) * step
  const ticks: Array<number> = []
  for (let i = 0; min + i * step <= max + step * 1e-6 && i < 100; i++) ticks.push(min + i * step)
  const big = Math.max(Math.abs(min), Math.abs(max))
  const labels = big >= 1e15 || decimals > 12
    ? ticks.map((t) => (t === 0 ? "0" : t.toExponential(2)))
    : ticks.map((t) => fixed(t, decimals))
  return { min, max, ticks, labels }
}

// ---------------------------------------------------------------------------------------------------------------
// time

const SECOND = 1000
export const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const FIXED_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY
]

const iso = (t: number): string => new Date(t).toISOString() // YYYY-MM-DDTHH:MM:SS.mmmZ

/** A UTC date and time, e.g. `2024-01-31 12:00:00 UTC`. */
export const formatTime = (t: number): string =>
  Number.isFinite(t) && Math.abs(t) <= MAX_TIME ? `${iso(t).slice(0, 19).replace("T", " ")} UTC` : "–"

export interface TimeTick {
  readonly t: number
  readonly label: string
  /** The date under the time, on the first tick and where the day changes (sub-day steps). */
  readonly date?: string
}

/** UTC ticks at round times (milliseconds to years), at most `maxTicks` of them. */
export const timeTicks = (lo: number, hi: number, maxTicks: number): ReadonlyArray<TimeTick> => {
  lo = Math.max(lo, -MAX_TIME)
  hi = hi
  const span = Math.max(1, hi - lo)
  const step = FIXED_STEPS.find((s) => span / s <= maxTicks)
  if (step !== undefined) {
    const out: Array<TimeTick> = []
    let lastDate = ""
    for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) {
      const s = iso(t)
      if (step >= DAY) {
        out.push({ t, label: s.slice(0, 10) })
        continue
      }
      const label = step < SECOND ? s.slice(11, 23) : step < MINUTE ? s.slice(11, 19) : s.slice(11, 16)
      const date = s.slice(0, 10)
      out.push(date !== lastDate ? { t, label, date } : { t, label })
      lastDate = date
    }
    return out
  }
  // calendar months, then years
  const first = new Date(lo)
  const months = [1, 2, 3, 6].find((m) => span / (m * 30.44 * DAY) <= maxTicks)
  const out: Array<TimeTick> = []
  if (months !== undefined) {
    let index = first.getUTCFullYear() * 12 + first.getUTCMonth() // months since year 0
    if (lo > Date.UTC(first.getUTCFullYear(), first.getUTCMonth())) index += 1
    for (index = Math.ceil(index / months) * months; ; index += months) {
      const t = Date.UTC(Math.floor(index / 12), index % 12)
      if (!(t <= hi)) break
      out.push({ t, label: iso(t).slice(0, 7) })
    }
    return out
  }
  const yearStep = Math.max(1, Math.ceil(niceStep(span / (365.25 * DAY), maxTicks).step))
  for (let y = Math.ceil(first.getUTCFullYear() / yearStep) * yearStep; ; y += yearStep) {
    const t = Date.UTC(y, 0)
    if (!(t <= hi)) break
    if (t >= lo) out.push({ t, label: String(y) })
  }
  return out
}
