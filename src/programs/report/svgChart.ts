/**
 * Server-side SVG line charts for the HTML reports (`../HtmlReport.ts`): no dependency, no JavaScript, no URL.
 * Pure functions; the same input always gives the same text.
 */
import { cleanPoints, type Point, downsample, formatTime, formatValue, MAX_TIME, MAX_VALUE, MINUTE, timeTicks, valueAxis } from "./chartAxes.js"

export { cleanPoints, downsample, formatTime, formatValue, MAX_POINTS, timeTicks, valueAxis } from "./chartAxes.js"
export type { Point, TimeTick, ValueAxis } from "./chartAxes.js"

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
