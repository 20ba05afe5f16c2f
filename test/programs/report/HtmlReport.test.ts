import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { type Chart, render, type ReportDocument } from "../../../src/programs/report/HtmlReport.js"
import { cleanPoints, downsample, formatValue, PALETTE, timeTicks, valueAxis } from "../../../src/programs/report/svgChart.js"
import { analyse, chromiumSkipReason, looksBlank, NOT_BLANK, screenshot } from "../../support/chromium.js"

const T0 = Date.UTC(2021, 10, 27, 0, 0, 0)
const MINUTE = 60_000

/** A deterministic pseudo-random walk (no Math.random: the same document every run). */
const walk = (n: number, start: number, stepMs: number, seed: number, scale: number): Array<[number, number]> => {
  let x = seed
  let v = start
  const out: Array<[number, number]> = []
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    v += ((x / 2 ** 32) - 0.48) * scale
    out.push([T0 + i * stepMs, v])
  }
  return out
}

const equity = (n: number): Chart => ({
  title: "Equity",
  unit: "USDT",
  series: [{ name: "equity", points: walk(n, 10_000, MINUTE, 7, 12) }],
  baseline: 10_000
})

/** What `backtest --report` and `run --report` put in a report, at realistic sizes. */
const backtestDocument = (): ReportDocument => ({
  title: "Backtest ADABTC 1m",
  subtitle: "ADABTC-1m-2021-11-27.csv · SMA 9/21",
  generatedAt: Date.UTC(2024, 0, 31, 12, 30, 5),
  summary: [
    ["Candles", "1,440"],
    ["Trades", "38"],
    ["Win rate", "47.4%"],
    ["Realized P&L", "-12.3456 USDT"],
    ["Max drawdown", "3.21%"],
    ["Candles/s", "52,310"]
  ],
  charts: [
    equity(4000),
    {
      title: "Position",
      unit: "ADA",
      kind: "step",
      series: [{ name: "ADABTC", points: walk(200, 0, 20 * MINUTE, 3, 40).map(([t, v]) => [t, Math.max(0, Math.round(v))]) }]
    }
  ],
  tables: [
    {
      title: "Trades",
      columns: ["time", "side", "price", "quantity", "P&L"],
      rows: Array.from({ length: 8 }, (_, i) => [
        new Date(T0 + i * 37 * MINUTE).toISOString().slice(0, 19).replace("T", " "),
        i % 2 === 0 ? "BUY" : "SELL",
        (0.0000301 + i * 1e-7).toFixed(7),
        "3,322.26",
        i % 2 === 0 ? "" : (i * 0.37 - 1).toFixed(4)
      ])
    }
  ]
})

const runDocument = (): ReportDocument => {
  const seconds = 600
  const perSecond = (seed: number, base: number, scale: number) =>
    walk(seconds, base, 1000, seed, scale).map(([t, v]): [number, number] => [t, Math.max(0, Math.round(v))])
  return {
    title: "trading-bus run",
    subtitle: "sim · btcusdt, ethusdt · 10 min",
    generatedAt: T0 + seconds * 1000,
    summary: [
      ["Events", "123,456"],
      ["Orders", "41"],
      ["Fills", "41"],
      ["Dropped", "0"],
      ["P&L", "+3.14 USDT"]
    ],
    charts: [
      { ...equity(seconds), series: [{ name: "equity", points: walk(seconds, 10_000, 1000, 11, 2) }] },
      {
        title: "Queue depths",
        unit: "events",
        kind: "step",
        series: [
          { name: "data", points: perSecond(1, 40, 30) },
          { name: "signal", points: perSecond(2, 5, 4) },
          { name: "order", points: perSecond(3, 2, 2) }
        ]
      },
      { title: "Throughput", unit: "events/s", series: [{ name: "events/s", points: perSecond(4, 200, 25) }] }
    ],
    tables: [{ title: "Queues", columns: ["queue", "processed", "dropped"], rows: [["data", "120,000", "0"], ["signal", "3,000", "0"], ["order", "456", "0"]] }]
  }
}

describe("HtmlReport.render", () => {
  it("is one self-contained HTML5 document with an inline SVG chart per chart", () => {
    const html = render(runDocument())
    expect(html.startsWith("<!DOCTYPE html>\n<html lang=\"en\">")).toBe(true)
    expect(html.trimEnd().endsWith("</html>")).toBe(true)
    expect(html).toContain("<style>")
    expect(html.match(/<svg class="chart"/g)).toHaveLength(3)
    expect(html.match(/<\/svg>/g)!.length).toBe(html.match(/<svg[ >]/g)!.length)
    expect(html).not.toMatch(/<script|<link|<img|<iframe|<object|@import|@font-face/i)
    // the SVG's shapes are well formed and hold finite coordinates
    expect(html).not.toMatch(/NaN|Infinity|undefined/)
    for (const d of html.matchAll(/ d="([^"]*)"/g)) expect(d[1]).toMatch(/^M[\d. ]+([LHV][\d. ]+)+$/)
    // a legend (several series) with the last values, the units, the time axis in UTC
    expect(html).toContain("<ul class=\"legend\">")
    expect(html).toMatch(/data: <b>[\d,]+<\/b> events/)
    expect(html).toContain(">UTC</text>")
    expect(html).toContain(">events/s</text>")
    expect(html).toContain("Generated 2021-11-27 00:10:00 UTC")
  })

  it("refers to nothing outside itself", () => {
    const html = render(backtestDocument())
    expect(html).not.toMatch(/https?:|\/\//i)
    expect(html).not.toMatch(/\b(src|href|xlink:href)\s*=/i)
    for (const u of html.matchAll(/url\(([^)]*)\)/g)) expect(u[1]).toMatch(/^#[\w-]+$/) // only the clip paths
    expect(html).toContain("default-src 'none'") // and the page is not allowed to load anything
  })

  it("escapes all text", () => {
    const evil = `<script>alert("x")</script>&'`
    const html = render({
      title: evil,
      subtitle: evil,
      generatedAt: T0,
      summary: [[evil, evil]],
      charts: [
        { title: evil, unit: evil, note: evil, series: [{ name: evil, points: [[T0, 1], [T0 + MINUTE, 2]] }, { name: evil, points: [] }] }
      ],
      tables: [{ title: evil, columns: [evil], rows: [[evil]] }]
    })
    expect(html).not.toContain("<script")
    expect(html).not.toContain(`"x"`)
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;")
  })

  it("renders empty charts, empty series, single points and non-finite values without breaking", () => {
    const html = render({
      title: "edge cases",
      generatedAt: NaN,
      summary: [],
      charts: [
        { title: "no series", series: [] },
        { title: "empty", series: [{ name: "a", points: [] }] },
        { title: "only junk", series: [{ name: "a", points: [[NaN, 1], [T0, Infinity], [Infinity, 2], [T0, -Infinity], [1e20, 3]] }] },
        { title: "one point", unit: "USDT", series: [{ name: "a", points: [[T0, 5]] }] },
        { title: "flat zero", baseline: 0, series: [{ name: "a", points: [[T0, 0], [T0 + MINUTE, 0]] }] },
        { title: "one of two empty", series: [{ name: "a", points: [[T0, 1], [T0 + 1, NaN], [T0 + 2, 3]] }, { name: "b", points: [] }] }
      ],
      tables: [{ title: "none", columns: ["a"], rows: [] }]
    })
    expect(html.match(/class="nodata">No data/g)).toHaveLength(3)
    expect(html).toContain("<i>no data</i>")
    expect(html.match(/<svg class="chart"/g)).toHaveLength(3)
    expect(html).not.toMatch(/NaN|Infinity|undefined/)
    // the single point is a dot, its value shown as the last one
    const onePoint = html.slice(html.indexOf("one point"), html.indexOf("flat zero"))
    expect(onePoint).toMatch(/<circle cx="[\d.]+" cy="[\d.]+" r="3"/)
    expect(onePoint).not.toContain("<path")
    expect(onePoint).toContain("last: <b>5</b> USDT")
    expect(html).toContain("No rows")
  })

  it("survives extreme times and values", () => {
    const extremes: ReadonlyArray<ReadonlyArray<readonly [number, number]>> = [
      [[-8.64e15, 1], [8.64e15, 2]],
      [[8.64e15, 1]],
      [[-8.64e15, 1]],
      [[0, 1e300], [1, -1e300]],
      [[0, 5e-324], [1, 0]],
      [[0, 1e6], [1, 1e6 + 1e-9]]
    ]
    for (const points of extremes) {
      const html = render({ title: "x", generatedAt: 0, summary: [], charts: [{ title: "c", series: [{ name: "a", points }] }] })
      expect(html).toContain("<svg class=\"chart\"")
      expect(html).not.toMatch(/NaN|Infinity/)
    }
    const huge = render({ title: "x", generatedAt: 0, summary: [], charts: [{ title: "c", series: [{ name: "a", points: [[0, Number.MAX_VALUE]] }] }] })
    expect(huge).toContain("No data")
  })

  it("downsamples large series deterministically, keeping first, last, minimum and maximum", () => {
    const points = walk(120_000, 100, 1000, 5, 3)
    points[54_321] = [points[54_321]![0], 1e6]
    points[99_999] = [points[99_999]![0], -1e6]
    const drawn = downsample(points)
    expect(drawn.length).toBeLessThanOrEqual(1500)
    expect(drawn.length).toBeGreaterThan(1400)
    expect(drawn[0]).toBe(points[0])
    expect(drawn[drawn.length - 1]).toBe(points[points.length - 1])
    expect(drawn).toContain(points[54_321])
    expect(drawn).toContain(points[99_999])
    // time order is kept, every point is an original one
    for (let i = 1; i < drawn.length; i++) expect(drawn[i]![0]).toBeGreaterThan(drawn[i - 1]![0])
    // each bucket's extremes survive: the drawn range equals the range of every 1/700 of the data
    const values = drawn.map((p) => p[1])
    expect(Math.max(...values)).toBe(1e6)
    expect(Math.min(...values)).toBe(-1e6)
    expect(downsample(points)).toEqual(drawn)
    const small = points.slice(0, 10)
    expect(downsample(small)).toBe(small)

    const html = render({ title: "big", generatedAt: T0, summary: [], charts: [{ title: "big", series: [{ name: "x", points }] }] })
    const path = html.match(/ d="([^"]*)"/)![1]!
    expect(path.match(/[ML]/g)!.length).toBe(drawn.length)
    expect(html).toContain("Drawn from 120,000 points")
    expect(html).toBe(render({ title: "big", generatedAt: T0, summary: [], charts: [{ title: "big", series: [{ name: "x", points }] }] }))
    expect(html.length).toBeLessThan(100_000)
  })

  it("draws buy and sell markers on a chart, counted in its legend; a wide page drops the page width", () => {
    const html = render({
      title: "m", generatedAt: T0, summary: [], wide: true,
      charts: [{
        title: "price", series: [{ name: "close", points: [[T0, 1], [T0 + MINUTE, 2], [T0 + 2 * MINUTE, 1.5]] }],
        markers: [{ t: T0 + MINUTE, v: 2, kind: "buy" }, { t: T0 + 2 * MINUTE, v: 1.5, kind: "sell", label: "SELL 3 at 1.5" }]
      }]
    })
    expect((html.match(/<path class="marker"/g) ?? []).length).toBe(2)
    expect(html).toContain("buy fills: <b>1</b>")
    expect(html).toContain("<title>SELL 3 at 1.5</title>")
    expect(html).toContain(`<body class="wide">`)
  })

  it("sorts and cleans points, and draws steps for step charts", () => {
    expect(cleanPoints([[3, 1], [1, NaN], [2, 2], [1, 3]])).toEqual([[1, 3], [2, 2], [3, 1]])
    const html = render({ title: "s", generatedAt: T0, summary: [], charts: [{ title: "s", kind: "step", series: [{ name: "a", points: [[T0, 1], [T0 + MINUTE, 2], [T0 + 2 * MINUTE, 0]] }] }] })
    expect(html.match(/ d="([^"]*)"/)![1]).toMatch(/^M[\d.]+ [\d.]+H[\d.]+V[\d.]+H[\d.]+V[\d.]+$/)
  })

  it("chooses nice ticks and readable numbers", () => {
    expect(valueAxis(9_973.2, 10_240.5)).toEqual({
      min: 9_900,
      max: 10_300,
      ticks: [9_900, 10_000, 10_100, 10_200, 10_300],
      labels: ["9,900", "10,000", "10,100", "10,200", "10,300"]
    })
    expect(valueAxis(0.0000298, 0.0000312).labels).toEqual(["0.0000295", "0.0000300", "0.0000305", "0.0000310", "0.0000315"])
    expect(valueAxis(-0.3, 0.2).labels).toEqual(["-0.3", "-0.2", "-0.1", "0.0", "0.1", "0.2"])
    expect(valueAxis(5, 5).ticks.length).toBeGreaterThan(1)
    // all zero (an idle queue): from 0 up, never into negative depths
    expect(valueAxis(0, 0)).toMatchObject({ min: 0, max: 1 })
    expect(formatValue(10_123.456789)).toBe("10,123.46")
    expect(formatValue(1.23456789)).toBe("1.2346")
    expect(formatValue(0.0000301234)).toBe("0.00003012")
    expect(formatValue(-0)).toBe("0")
    expect(formatValue(42)).toBe("42")
    // UTC times: minutes within a day with the date where it changes, whole days across weeks
    const day = timeTicks(Date.UTC(2021, 10, 27, 22, 7), Date.UTC(2021, 10, 28, 3, 0), 8)
    expect(day.map((t) => t.label)).toEqual(["23:00", "00:00", "01:00", "02:00", "03:00"])
    expect(day.map((t) => t.date)).toEqual(["2021-11-27", "2021-11-28", undefined, undefined, undefined])
    expect(timeTicks(Date.UTC(2021, 0, 3, 5), Date.UTC(2021, 0, 9), 8).map((t) => t.label)).toEqual([
      "2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07", "2021-01-08", "2021-01-09"
    ])
    expect(timeTicks(Date.UTC(2020, 10, 15), Date.UTC(2021, 4, 20), 8).map((t) => t.label)).toEqual([
      "2020-12", "2021-01", "2021-02", "2021-03", "2021-04", "2021-05"
    ])
    expect(timeTicks(Date.UTC(2001, 5), Date.UTC(2024, 0), 8).map((t) => t.label)).toEqual(["2005", "2010", "2015", "2020"])
  })
})

describe("HtmlReport in headless Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "trading-bus-report-"))
  afterAll(() => {
    if (process.env.TRADING_BUS_KEEP_SCREENSHOTS === undefined) rmSync(dir, { recursive: true, force: true })
    else console.log(`screenshots kept in ${dir}`)
  })
  const skip = chromiumSkipReason()

  const shoot = async (name: string, html: string, height = 1600) => {
    const file = join(dir, `${name}.html`)
    const png = join(dir, `${name}.png`)
    writeFileSync(file, html)
    await screenshot(file, png, { width: 1100, height, timeoutMs: 20_000 })
    return analyse(png, PALETTE.slice(0, 3))
  }

  it("detects a blank page as blank (the check is not trivially true)", async (ctx) => {
    ctx.skip(skip !== undefined, skip)
    const blank = await shoot("blank", "<html><body></body></html>", 600)
    expect(blank.width).toBe(1100)
    expect(blank.height).toBe(600)
    expect(looksBlank(blank)).toBe(true)
    expect(blank.nonBackgroundFraction).toBeLessThanOrEqual(NOT_BLANK.minNonBackgroundFraction)
  })

  it("draws the backtest report: equity curve, position steps, trades", async (ctx) => {
    ctx.skip(skip !== undefined, skip)
    const a = await shoot("backtest", render(backtestDocument()))
    expect(a.background).toBe("#ffffff")
    expect(looksBlank(a)).toBe(false)
    expect(a.nonBackgroundFraction).toBeGreaterThan(NOT_BLANK.minNonBackgroundFraction)
    expect(a.distinctColours).toBeGreaterThan(NOT_BLANK.minDistinctColours)
    expect(a.probed[PALETTE[0]!]).toBeGreaterThan(500) // the curves are drawn, in their colour
  })

  it("draws the run report: equity, queue depths of three queues, events/s", async (ctx) => {
    ctx.skip(skip !== undefined, skip)
    const a = await shoot("run", render(runDocument()))
    expect(looksBlank(a)).toBe(false)
    for (const colour of PALETTE.slice(0, 3)) expect(a.probed[colour]).toBeGreaterThan(100)
  })
})
