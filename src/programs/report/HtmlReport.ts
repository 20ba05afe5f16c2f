/**
 * Self-contained HTML reports (`backtest --report`, `run --report`): one HTML5 file with inline CSS and charts drawn
 * as inline SVG here, on the server. No JavaScript, no URL of any kind (a Content-Security-Policy forbids the page to
 * load anything), so it opens offline and prints. Pure: the same document always gives the same text.
 */
import { type ChartMarker, escapeHtml, formatTime, formatValue, MARKER_COLOURS, renderChart } from "./svgChart.js"

/** One line of a chart: `[epoch ms, value]` points; non-finite ones are left out, order does not matter. */
export interface Series {
  readonly name: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

export interface Chart {
  readonly title: string
  /** Shown on the y axis, e.g. "USDT", "events/s". */
  readonly unit?: string
  readonly series: ReadonlyArray<Series>
  /** `step` for counters and positions; `line` by default. */
  readonly kind?: "line" | "step"
  /** A horizontal reference line, e.g. 0 for P&L. */
  readonly baseline?: number
  /** A sentence under the chart. */
  readonly note?: string
  /** Buy and sell markers, shown in the legend too. */
  readonly markers?: ReadonlyArray<ChartMarker>
}

export interface Table {
  readonly title: string
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
}

export interface ReportDocument {
  readonly title: string
  readonly subtitle?: string
  /** Epoch ms. */
  readonly generatedAt: number
  readonly summary: ReadonlyArray<readonly [label: string, value: string]>
  readonly charts: ReadonlyArray<Chart>
  readonly tables?: ReadonlyArray<Table>
  /** Use the window's whole width (charts and tables scale to it) instead of a page of at most 1040 px. */
  readonly wide?: boolean
  /** Sections of HTML the caller built and escaped (a sweep's heatmap), shown after the summary. */
  readonly sections?: ReadonlyArray<string>
}

const CSS = `
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;padding:24px 32px;max-width:1040px;background:#fff;color:#1d2330;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif}
header{border-bottom:2px solid #1d2330;margin-bottom:18px;padding-bottom:8px}
h1{font-size:24px;margin:0 0 2px}
h2{font-size:17px;margin:0 0 6px}
.sub{color:#4a5568;margin:0}
.meta{color:#6b7280;font-size:12px;margin:4px 0 0}
.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:0 0 22px;padding:0}
.summary div{border:1px solid #d5dae3;border-radius:6px;padding:8px 10px;break-inside:avoid}
.summary dt{color:#6b7280;font-size:12px}
.summary dd{margin:2px 0 0;font-size:17px;font-weight:600;overflow-wrap:anywhere;font-variant-numeric:tabular-nums}
section{margin:0 0 26px;break-inside:avoid;page-break-inside:avoid}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;margin:0 0 4px;padding:0;list-style:none;font-size:13px;font-variant-numeric:tabular-nums}
.legend li{display:flex;align-items:center;gap:6px}
.legend b{font-weight:600}
svg.chart{display:block;width:100%;max-width:960px;height:auto;font-size:12px;font-family:inherit}
svg.chart .plot{fill:#fff;stroke:none}
svg.chart .grid{stroke:#e3e7ee;stroke-width:1}
svg.chart .axis{stroke:#5b6474;stroke-width:1}
svg.chart .baseline{stroke:#1d2330;stroke-width:1.2;stroke-dasharray:5 4}
svg.chart .series{fill:none;stroke-width:1.6;stroke-linejoin:round;stroke-linecap:round}
svg.chart .tick{fill:#4a5568}
svg.chart .date{fill:#6b7280}
svg.chart .unit{fill:#4a5568;font-weight:600}
.nodata{border:1px dashed #c3c9d4;border-radius:6px;color:#6b7280;padding:28px;text-align:center;max-width:960px;margin:0}
.note{color:#6b7280;font-size:12px;margin:4px 0 0}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums;max-width:100%}
th,td{border-bottom:1px solid #e3e7ee;padding:4px 12px 4px 0;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{border-bottom:2px solid #5b6474;font-weight:600;white-space:nowrap;overflow-wrap:normal}
td.num,th.num{text-align:right}
body.wide{max-width:none}
body.wide svg.chart{max-width:none}
body.wide .nodata{max-width:none}
svg.chart .marker{stroke:#fff;stroke-width:0.8}
footer{color:#6b7280;font-size:12px;border-top:1px solid #d5dae3;padding-top:6px}
@media print{body{padding:0;font-size:12px}section{margin-bottom:16px}}
`.trim()

const NUMERIC = /^[-+−]?[\d,. ]*\d[\d,. ]*%?$/

const text = (value: unknown): string => escapeHtml(String(value ?? ""))

const renderTable = (table: Table): string => {
  const numericColumns = table.columns.map((_, i) =>
    table.rows.length > 0 && table.rows.every((row) => row[i] === undefined || row[i] === "" || NUMERIC.test(String(row[i])))
  )
  const head = table.columns.map((c, i) => `<th${numericColumns[i] === true ? ` class="num"` : ""}>${text(c)}</th>`).join("")
  const body = table.rows
    .map((row) => {
      const cells = Array.from({ length: Math.max(row.length, table.columns.length) }, (_, i) =>
        numericColumns[i] === true ? `<td class="num">${text(row[i])}</td>` : `<td>${text(row[i])}</td>`
      )
      return `<tr>${cells.join("")}</tr>`
    })
    .join("\n")
  const empty = table.rows.length === 0 ? `<p class="nodata">No rows</p>` : ""
  return `<section class="table"><h2>${text(table.title)}</h2>${
    table.rows.length > 0 ? `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>` : empty
  }</section>`
}

const swatch = (colour: string, dash: string | undefined): string =>
  `<svg width="22" height="10" aria-hidden="true"><line x1="1" x2="21" y1="5" y2="5" stroke="${colour}" stroke-width="3"${
    dash !== undefined ? ` stroke-dasharray="${dash}"` : ""
  }/></svg>`

const renderChartSection = (chart: Chart, index: number): string => {
  const { legend, svg } = renderChart(chart, index)
  const unit = chart.unit !== undefined && chart.unit !== "" ? ` ${text(chart.unit)}` : ""
  const lastOf = (l: (typeof legend)[number]) =>
    l.last !== undefined ? `<b>${text(formatValue(l.last))}</b>${unit}` : `<i>no data</i>`
  const items =
    legend.length === 1
      ? `<li>last: ${lastOf(legend[0]!)}${legend[0]!.lastAt !== undefined ? `&nbsp;(${text(formatTime(legend[0]!.lastAt))})` : ""}</li>`
      : legend.map((l) => `<li>${swatch(l.colour, l.dash)}${text(l.name)}: ${lastOf(l)}</li>`).join("")
  const markerItems = (["buy", "sell"] as const)
    .map((kind) => [kind, (chart.markers ?? []).filter((m) => m.kind === kind).length] as const)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) =>
      `<li><svg width="12" height="10" aria-hidden="true"><path d="${kind === "buy" ? "M6 0l-5 9h10z" : "M6 10l-5 -9h10z"}" fill="${
        MARKER_COLOURS[kind]
      }"/></svg>${kind} fills: <b>${n}</b></li>`
    )
    .join("")
  const thinned = legend.filter((l) => l.drawn < l.points)
  const notes = [
    ...(chart.note !== undefined ? [text(chart.note)] : []),
    ...(thinned.length > 0
      ? [`${thinned.length === 1 ? "Drawn" : "Each series drawn"} from ${
        thinned.length === 1 || thinned.every((l) => l.points === thinned[0]!.points)
          ? `${formatValue(thinned[0]!.points)} points`
          : thinned.map((l) => `${text(l.name)} ${formatValue(l.points)}`).join(", ")
      } (minimum and maximum per bucket kept).`]
      : [])
  ]
  return `<section class="chart"><h2>${text(chart.title)}</h2>${
    legend.length > 0 ? `<ul class="legend">${items}${markerItems}</ul>` : ""
  }${svg}${notes.length > 0 ? `<p class="note">${notes.join(" ")}</p>` : ""}</section>`
}

/** The report as one self-contained HTML5 document. */
export const render = (doc: ReportDocument): string => {
  const generated = formatTime(doc.generatedAt)
  const summary =
    doc.summary.length > 0
      ? `<dl class="summary">${doc.summary.map(([label, value]) => `<div><dt>${text(label)}</dt><dd>${text(value)}</dd></div>`).join("")}</dl>`
      : ""
  return [
    `<!DOCTYPE html>`,
    `<html lang="en">`,
    `<head>`,
    `<meta charset="utf-8">`,
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${text(doc.title)}</title>`,
    `<style>${CSS}</style>`,
    `</head>`,
    doc.wide === true ? `<body class="wide">` : `<body>`,
    `<header><h1>${text(doc.title)}</h1>${doc.subtitle !== undefined ? `<p class="sub">${text(doc.subtitle)}</p>` : ""}<p class="meta">Generated ${text(generated)} by trading-bus</p></header>`,
    summary,
    ...(doc.sections ?? []),
    ...doc.charts.map(renderChartSection),
    ...(doc.tables ?? []).map(renderTable),
    `<footer>All times are UTC.</footer>`,
    `</body>`,
    `</html>`,
    ``
  ].join("\n")
}
