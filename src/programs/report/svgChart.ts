/**
 * Server-side SVG line charts for the HTML reports (`../HtmlReport.ts`): no dependency, no JavaScript, no URL.
 * Pure functions; the same input always gives the same text.
 */

export type Point = readonly [number, number]

export interface ChartSeries {
  readonly name: string
  readonly points: ReadonlyArray<Point>
}

/** A point to mark on a chart: a buy (an upward green triangle) or a sell (a downward red one). */
export interface ChartMarker {
  readonly t: number
  readonly v: number
  readonly kind: "buy" | "sell"
  /** The marker's tooltip. */
  readonly label?: string
}

export const MARKER_COLOURS = { buy: "#1a9641", sell: "#d7191c" } as const

export interface ChartSpec {
  readonly title: string
  readonly unit?: string
  readonly series: ReadonlyArray<ChartSeries>
  readonly kind?: "line" | "step"
  readonly baseline?: number
  readonly markers?: ReadonlyArray<ChartMarker>
}

/** Distinct, print-friendly colours (Tableau 10 order); past ten, lines are also dashed. */
export const PALETTE: ReadonlyArray<string> = [
  "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
  "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"
]

/** At most this many points are drawn per series. */
export const MAX_POINTS = 1500

const WIDTH = 960
const HEIGHT = 300
const FONT_PX = 12
const CHAR_PX = FONT_PX * 0.62 // a generous average glyph width, to size margins and tick spacing

export const escapeHtml = (text: string): string =>
  String(text).replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;"
  )

// ---------------------------------------------------------------------------------------------------------------
// data

/** Largest |epoch ms| a `Date` accepts; beyond it `toISOString` throws. */
const MAX_TIME = 8.64e15

/** Values beyond this are left out, as non-finite ones are (the axis arithmetic would overflow). */
const MAX_VALUE = 1e300

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
const MINUTE = 60 * SECOND
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

// ---------------------------------------------------------------------------------------------------------------
// the chart

const r1 = (v: number): string => (Math.round(v * 10) / 10).toString()

export interface RenderedChart {
  /** The `<svg>` element, or a "no data" note when no series has a finite point. */
  readonly svg: string
  /** Per series, in order: its colour and dash pattern, last value and point counts. */
  readonly legend: ReadonlyArray<{
    readonly name: string
    readonly colour: string
    readonly dash?: string
    readonly last?: number
    readonly lastAt?: number
    readonly points: number
    readonly drawn: number
  }>
}

/** `id` tells apart the charts of one document (it names the chart's clip path). */
export const renderChart = (chart: ChartSpec, id = 0): RenderedChart => {
  const prepared = chart.series.map((s, i) => {
    const clean = cleanPoints(s.points)
    const colour = PALETTE[i % PALETTE.length]!
    const dash = i >= PALETTE.length ? ["6 3", "2 3", "8 3 2 3"][Math.floor(i / PALETTE.length - 1) % 3]! : undefined
    return { name: String(s.name), colour, dash, clean, drawn: downsample(clean) }
  })
  const legend = prepared.map((p) => {
    const last = p.clean[p.clean.length - 1]
    return {
      name: p.name,
      colour: p.colour,
      ...(p.dash !== undefined ? { dash: p.dash } : {}),
      ...(last !== undefined ? { last: last[1], lastAt: last[0] } : {}),
      points: p.clean.length,
      drawn: p.drawn.length
    }
  })
  let tLo = Infinity
  let tHi = -Infinity
  let vLo = Infinity
  let vHi = -Infinity
  for (const p of prepared) {
    for (const [t, v] of p.drawn) {
      if (t < tLo) tLo = t
      if (t > tHi) tHi = t
      if (v < vLo) vLo = v
      if (v > vHi) vHi = v
    }
  }
  const markers = (chart.markers ?? []).filter((m) => Math.abs(m.t) <= MAX_TIME && Math.abs(m.v) <= MAX_VALUE)
  for (const m of markers) {
    if (m.v < vLo) vLo = m.v
    if (m.v > vHi) vHi = m.v
  }
  if (tLo > tHi) return { svg: `<p class="nodata">No data</p>`, legend }
  const baseline = chart.baseline !== undefined && Number.isFinite(chart.baseline) ? chart.baseline : undefined
  if (baseline !== undefined) {
    vLo = Math.min(vLo, baseline)
    vHi = Math.max(vHi, baseline)
  }
  if (tHi === tLo) {
    tLo = Math.max(-MAX_TIME, tLo - MINUTE)
    tHi = Math.min(MAX_TIME, tHi + MINUTE)
  }

  const y = valueAxis(vLo, vHi, 5)
  const labelChars = Math.max(...y.labels.map((l) => l.length))
  const left = Math.ceil(Math.max(72, labelChars * CHAR_PX + 16)) // 72: the plots of one report line up
  const right = 48
  const top = 22
  const bottom = 44
  const plotW = WIDTH - left - right
  const plotH = HEIGHT - top - bottom
  const xOf = (t: number) => left + ((t - tLo) / (tHi - tLo)) * plotW
  const yOf = (v: number) => top + plotH - ((v - y.min) / (y.max - y.min)) * plotH
  const xTicks = timeTicks(tLo, tHi, Math.max(2, Math.floor(plotW / (11 * CHAR_PX + 28))))

  const parts: Array<string> = []
  parts.push(
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(chart.title)}">`,
    `<title>${escapeHtml(chart.title)}</title>`,
    `<rect class="plot" x="${left}" y="${top}" width="${plotW}" height="${plotH}"/>`
  )
  // grid and value labels
  for (let i = 0; i < y.ticks.length; i++) {
    const py = r1(yOf(y.ticks[i]!))
    parts.push(
      `<line class="grid" x1="${left}" x2="${left + plotW}" y1="${py}" y2="${py}"/>`,
      `<text class="tick" x="${left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeHtml(y.labels[i]!)}</text>`
    )
  }
  if (chart.unit !== undefined && chart.unit !== "") {
    const fits = chart.unit.length * CHAR_PX < left - 10
    parts.push(
      `<text class="unit" x="${fits ? left - 6 : 4}" y="${top - 8}" text-anchor="${fits ? "end" : "start"}">${escapeHtml(chart.unit)}</text>`
    )
  }
  // time labels
  for (const tick of xTicks) {
    const px = xOf(tick.t)
    parts.push(
      `<line class="grid" x1="${r1(px)}" x2="${r1(px)}" y1="${top}" y2="${top + plotH}"/>`,
      `<text class="tick" x="${r1(px)}" y="${top + plotH + 16}" text-anchor="middle">${escapeHtml(tick.label)}</text>`
    )
    if (tick.date !== undefined) {
      parts.push(`<text class="tick date" x="${r1(px)}" y="${top + plotH + 31}" text-anchor="middle">${tick.date}</text>`)
    }
  }
  parts.push(`<text class="unit" x="${left + plotW}" y="${top - 8}" text-anchor="end">UTC</text>`)
  if (baseline !== undefined) {
    const py = r1(yOf(baseline))
    parts.push(`<line class="baseline" x1="${left}" x2="${left + plotW}" y1="${py}" y2="${py}"/>`)
  }
  // the series, clipped to the plot
  const clip = `chart-${id}-clip`
  parts.push(
    `<clipPath id="${clip}"><rect x="${left - 4}" y="${top - 4}" width="${plotW + 8}" height="${plotH + 8}"/></clipPath>`,
    `<g clip-path="url(#${clip})">`
  )
  for (const p of prepared) {
    if (p.drawn.length === 0) continue
    const dash = p.dash !== undefined ? ` stroke-dasharray="${p.dash}"` : ""
    if (p.drawn.length > 1) {
      let d = `M${r1(xOf(p.drawn[0]![0]))} ${r1(yOf(p.drawn[0]![1]))}`
      for (let i = 1; i < p.drawn.length; i++) {
        const [t, v] = p.drawn[i]!
        d += chart.kind === "step" ? `H${r1(xOf(t))}V${r1(yOf(v))}` : `L${r1(xOf(t))} ${r1(yOf(v))}`
      }
      parts.push(`<path class="series" d="${d}" stroke="${p.colour}"${dash}><title>${escapeHtml(p.name)}</title></path>`)
    }
    const [t, v] = p.drawn[p.drawn.length - 1]!
    parts.push(
      `<circle cx="${r1(xOf(t))}" cy="${r1(yOf(v))}" r="3" fill="${p.colour}"><title>${escapeHtml(`${p.name}: ${formatValue(v)} at ${formatTime(t)}`)}</title></circle>`
    )
  }
  for (const m of markers) {
    const x = xOf(m.t)
    const y0 = yOf(m.v)
    // the triangle's tip at the price: below it pointing up for a buy, above it pointing down for a sell
    const d = m.kind === "buy"
      ? `M${r1(x)} ${r1(y0)}l-5 9h10z`
      : `M${r1(x)} ${r1(y0)}l-5 -9h10z`
    parts.push(
      `<path class="marker" d="${d}" fill="${MARKER_COLOURS[m.kind]}"><title>${escapeHtml(m.label ?? `${m.kind} ${formatValue(m.v)} at ${formatTime(m.t)}`)}</title></path>`
    )
  }
  parts.push(`</g>`, `<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}"/>`)
  parts.push(`<line class="axis" x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}"/>`)
  parts.push(`</svg>`)
  return { svg: parts.join(""), legend }
}
