import { Effect, Metric, MetricKeyType, type MetricPair, MetricState, Option } from "effect"
import { assembleHistograms, flushPending } from "../../domain/Metrics.js"

/**
 * Effect's metrics in the Prometheus text exposition format 0.0.4, written
 * by hand: the format is small, and a dependency (OpenTelemetry's SDK and
 * its Prometheus exporter behind `@effect/opentelemetry`) would bring its
 * own registry, server and naming rules for the same text.
 *
 * Effect counters become `counter`, gauges `gauge`, histograms `histogram`
 * (cumulative `_bucket{le}`, `+Inf`, `_sum`, `_count`), summaries `summary`
 * (`{quantile}`, `_sum`, `_count`) and frequencies a `counter` with one
 * series per word, labelled `key`. A `Metrics.CountedHistogram`'s counters
 * are rendered as the one histogram they hold.
 */

/** The Content-Type of the format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** The prefix of the metrics rendered by default: trading-bus's own. */
export const defaultPrefix = "trading_bus_"

export interface RenderOptions {
  /** Only metrics whose name starts with it; `""` renders every metric of the registry. Default `"trading_bus_"`. */
  readonly prefix?: string
}

/** Maps a name to `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels: no colon), replacing what is not allowed with `_`. */
const sanitize = (name: string, colon: boolean) => {
  const s = name.replace(colon ? /[^a-zA-Z0-9_:]/g : /[^a-zA-Z0-9_]/g, "_")
  return /^[0-9]/.test(s) || s === "" ? `_${s}` : s
}

const escapeLabelValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** A sample value as Prometheus parses it (Go's ParseFloat): `+Inf`, `-Inf`, `NaN` or a decimal. */
export const formatValue = (n: number | bigint): string => {
  if (typeof n === "bigint") return n.toString()
  if (Number.isNaN(n)) return "NaN"
  if (n === Number.POSITIVE_INFINITY) return "+Inf"
  if (n === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(n)
}

type Labels = ReadonlyArray<readonly [string, string]>

const formatLabels = (labels: Labels): string =>
  labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`

type PromType = "counter" | "gauge" | "histogram" | "summary"

interface Family {
  readonly name: string
  readonly type: PromType
  help: string | undefined
  /** Series by their rendered labels, so that the same series from two registry keys is written once. */
  readonly series: Map<string, ReadonlyArray<string>>
}

const typeOf = (keyType: unknown): PromType | undefined =>
  MetricKeyType.isCounterKey(keyType) || MetricKeyType.isFrequencyKey(keyType)
    ? "counter"
    : MetricKeyType.isGaugeKey(keyType)
    ? "gauge"
    : MetricKeyType.isHistogramKey(keyType)
    ? "histogram"
    : MetricKeyType.isSummaryKey(keyType)
    ? "summary"
    : undefined

/** The sample lines of one series; series-level labels are sorted by name so the output is stable. */
const samples = (name: string, labels: Labels, state: unknown): ReadonlyArray<string> => {
  const line = (suffix: string, extra: Labels, value: number | bigint) =>
    `${name}${suffix}${formatLabels([...labels, ...extra])} ${formatValue(value)}`
  if (MetricState.isCounterState(state)) return [line("", [], state.count)]
  if (MetricState.isGaugeState(state)) return [line("", [], state.value)]
  if (MetricState.isHistogramState(state)) {
    const out: Array<string> = []
    for (const [bound, cumulated] of state.buckets) {
      if (Number.isFinite(bound)) out.push(line("_bucket", [["le", formatValue(bound)]], cumulated))
    }
    // Effect's +Inf bucket leaves out NaN observations; the format wants +Inf to equal _count.
    out.push(line("_bucket", [["le", "+Inf"]], state.count))
    out.push(line("_sum", [], state.sum), line("_count", [], state.count))
    return out
  }
  if (MetricState.isSummaryState(state)) {
    const out: Array<string> = []
    for (const [q, value] of state.quantiles) {
      out.push(line("", [["quantile", formatValue(q)]], Option.getOrElse(value, () => Number.NaN)))
    }
    out.push(line("_sum", [], state.sum), line("_count", [], state.count))
    return out
  }
  if (MetricState.isFrequencyState(state)) {
    return [...state.occurrences].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([word, count]) =>
      line("", [["key", word]], count)
    )
  }
  return []
}

/** Renders a registry snapshot; families sorted by name, series by labels. */
export const render = (
  snapshot: ReadonlyArray<MetricPair.MetricPair.Untyped>,
  options: RenderOptions = {}
): string => {
  const prefix = options.prefix ?? defaultPrefix
  const families = new Map<string, Family>()
  for (const { metricKey, metricState } of assembleHistograms(snapshot)) {
    if (!metricKey.name.startsWith(prefix)) continue
    const type = typeOf(metricKey.keyType)
    if (type === undefined) continue
    const name = sanitize(metricKey.name, true)
    let family = families.get(name)
    if (family === undefined) {
      family = { name, type, help: undefined, series: new Map() }
      families.set(name, family)
    } else if (family.type !== type) {
      continue // one name, two kinds of metric: the format allows one TYPE per family, keep the first
    }
    if (family.help === undefined) family.help = Option.getOrUndefined(metricKey.description)
    const labels: Array<readonly [string, string]> = []
    for (const tag of metricKey.tags) {
      const key = sanitize(tag.key, false)
      if (key.startsWith("__") || labels.some(([k]) => k === key)) continue // reserved, or a duplicate
      labels.push([key, tag.value])
    }
    labels.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    const id = formatLabels(labels)
    if (!family.series.has(id)) family.series.set(id, samples(name, labels, metricState))
  }
  const lines: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name)!
    if (family.help !== undefined) lines.push(`# HELP ${name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${name} ${family.type}`)
    for (const id of [...family.series.keys()].sort()) lines.push(...family.series.get(id)!)
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}

/** The global registry, rendered now (after adding what recorders hold unflushed: see `Metrics.flushPending`). */
export const scrape = (options: RenderOptions = {}): Effect.Effect<string> =>
  Effect.suspend(() => {
    flushPending()
    return Effect.map(Metric.snapshot, (snapshot) => render(snapshot, options))
  })
