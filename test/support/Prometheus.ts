/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests:
 * it checks each line against the format's grammar and rules and returns the
 * samples, or throws naming the line that breaks them.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: string
  readonly help: string | undefined
  readonly samples: ReadonlyArray<Sample>
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const types = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

const parseValue = (text: string, where: string): number => {
  if (text === "+Inf") return Number.POSITIVE_INFINITY
  if (text === "-Inf") return Number.NEGATIVE_INFINITY
  if (text === "NaN") return Number.NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${text}`)
  return Number(text)
}

/** Reads `{a="x",b="y"}` from `text` at `start` (the `{`); returns the labels and the index after `}`. */
const parseLabels = (text: string, start: number, where: string) => {
  const labels: Record<string, string> = {}
  let i = start + 1
  while (text[i] !== "}") {
    const eq = text.indexOf("=", i)
    if (eq < 0) throw new Error(`${where}: no = in labels`)
    const name = text.slice(i, eq)
    if (!labelName.test(name)) throw new Error(`${where}: bad label name ${name}`)
    if (name in labels) throw new Error(`${where}: duplicate label ${name}`)
    if (text[eq + 1] !== "\"") throw new Error(`${where}: label value not quoted`)
    let value = ""
    let j = eq + 2
    for (;; j++) {
      const c = text[j]
      if (c === undefined) throw new Error(`${where}: unterminated label value`)
      if (c === "\"") break
      if (c === "\\") {
        const next = text[++j]
        if (next === "\\") value += "\\"
        else if (next === "\"") value += "\""
        else if (next === "n") value += "\n"
        else throw new Error(`${where}: bad escape \\${next}`)
      } else value += c
    }
    labels[name] = value
    i = j + 1
    if (text[i] === ",") i++
    else if (text[i] !== "}") throw new Error(`${where}: expected , or } after a label`)
  }
  return { labels, end: i + 1 }
}

const familyOf = (sample: string, families: Map<string, { type: string }>) => {
  if (families.has(sample)) return sample
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length)
      const type = families.get(base)?.type
      if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base
    }
  }
  return undefined
}

const key = (labels: Readonly<Record<string, string>>, without: string) =>
  JSON.stringify(Object.entries(labels).filter(([k]) => k !== without).sort(([a], [b]) => a < b ? -1 : 1))

/** Checks a histogram family: per series, `le` ascending with counts that never decrease, `+Inf` equal to `_count`. */
const checkHistogram = (family: Family) => {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>()
  const get = (labels: Readonly<Record<string, string>>) => {
    const k = key(labels, "le")
    let s = series.get(k)
    if (s === undefined) series.set(k, s = { buckets: [] })
    return s
  }
  for (const s of family.samples) {
    if (s.name.endsWith("_bucket")) {
      const le = s.labels["le"]
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`)
      get(s.labels).buckets.push([parseValue(le, family.name), s.value])
    } else if (s.name.endsWith("_count")) get(s.labels).count = s.value
    else if (s.name.endsWith("_sum")) get(s.labels).sum = s.value
    else throw new Error(`${family.name}: a histogram sample ${s.name}`)
  }
  for (const [k, s] of series) {
    if (s.count === undefined || s.sum === undefined) throw new Error(`${family.name}${k}: no _count or _sum`)
    const last = s.buckets[s.buckets.length - 1]
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${family.name}${k}: no +Inf bucket last`)
    if (last[1] !== s.count) throw new Error(`${family.name}${k}: +Inf bucket ${last[1]} != _count ${s.count}`)
    for (let i = 1; i < s.buckets.length; i++) {
      const [le0, c0] = s.buckets[i - 1]!
      const [le1, c1] = s.buckets[i]!
      if (!(le1 > le0)) throw new Error(`${family.name}${k}: le not ascending at ${le1}`)
      if (c1 < c0) throw new Error(`${family.name}${k}: bucket counts decrease at le=${le1}`)
    }
  }
}

/** Parses and checks an exposition; throws on the first rule broken. */
export const parse = (text: string): ReadonlyMap<string, Family> => {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the exposition does not end with a newline")
  const families = new Map<string, { name: string; type: string; help: string | undefined; samples: Array<Sample> }>()
  const seenHelp = new Set<string>()
  const closed = new Set<string>()
  let current: string | undefined
  const lines = text === "" ? [] : text.slice(0, -1).split("\n")
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${line})`
    const switchTo = (name: string) => {
      if (current !== name) {
        if (closed.has(name)) throw new Error(`${where}: family ${name} appears twice, not in one group`)
        if (current !== undefined) closed.add(current)
        current = name
      }
    }
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (m === null) return // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string]
      if (!metricName.test(name)) throw new Error(`${where}: bad metric name ${name}`)
      switchTo(name)
      const family = families.get(name) ?? { name, type: "untyped", help: undefined, samples: [] }
      if (family.samples.length > 0) throw new Error(`${where}: ${kind} after samples of ${name}`)
      if (kind === "HELP") {
        if (seenHelp.has(name)) throw new Error(`${where}: second HELP for ${name}`)
        seenHelp.add(name)
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ""))) throw new Error(`${where}: bad escape in HELP`)
        family.help = rest.replace(/\\(\\|n)/g, (_, c: string) => c === "n" ? "\n" : "\\")
      } else {
        if (families.has(name) && family.type !== "untyped") throw new Error(`${where}: second TYPE for ${name}`)
        if (!types.has(rest)) throw new Error(`${where}: unknown type ${rest}`)
        family.type = rest
      }
      families.set(name, family)
      return
    }
    if (line.trim() === "") throw new Error(`${where}: an empty line`)
    const nameEnd = line.search(/[{ ]/)
    if (nameEnd <= 0) throw new Error(`${where}: no metric name`)
    const name = line.slice(0, nameEnd)
    if (!metricName.test(name)) throw new Error(`${where}: bad metric name ${name}`)
    let labels: Record<string, string> = {}
    let rest = line.slice(nameEnd)
    if (rest.startsWith("{")) {
      const parsed = parseLabels(line, nameEnd, where)
      labels = parsed.labels
      rest = line.slice(parsed.end)
    }
    const parts = rest.trim().split(/ +/)
    if (!rest.startsWith(" ") || parts.length < 1 || parts.length > 2) throw new Error(`${where}: bad sample`)
    const value = parseValue(parts[0]!, where)
    const familyName = familyOf(name, families)
    if (familyName === undefined) throw new Error(`${where}: sample ${name} before its TYPE`)
    switchTo(familyName)
    families.get(familyName)!.samples.push({ name, labels, value })
  })
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family)
  return families
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
export const valueOf = (
  families: ReadonlyMap<string, Family>,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number | undefined => {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value
    }
  }
  return undefined
}

/** The samples named `name`. */
export const samplesOf = (families: ReadonlyMap<string, Family>, name: string): ReadonlyArray<Sample> =>
  [...families.values()].flatMap((f) => f.samples.filter((s) => s.name === name))
