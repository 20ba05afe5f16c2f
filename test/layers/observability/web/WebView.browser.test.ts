import { Layer, ManagedRuntime } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Engine from "../../../../src/layers/engine/Engine.js"
import * as MetricsServer from "../../../../src/layers/observability/MetricsServer.js"
import * as SmaCrossoverStrategy from "../../../../src/layers/trading/SmaCrossoverStrategy.js"
import { analyse, chromiumSkipReason, findChromium, looksBlank } from "../../../support/chromium.js"
import { freePort } from "../../../support/ports.js"

const skip = chromiumSkipReason()

describe.skipIf(skip !== undefined)(`the live web view in headless Chromium${skip === undefined ? "" : ` (skipped: ${skip})`}`, () => {
  let runtime: ManagedRuntime.ManagedRuntime<MetricsServer.MetricsServer, unknown>
  let url: string

  beforeAll(async () => {
    const port = await freePort()
    runtime = ManagedRuntime.make(Engine.layer({
      source: { _tag: "Simulator", symbols: ["btcusdt", "ethusdt"], seed: 5, speed: 20 },
      strategy: Layer.orDie(SmaCrossoverStrategy.layer({ fast: 2, slow: 5 })),
      journal: false,
      metrics: { port },
      web: true
      // the engine's layer type names the services of the engine without its server: it is there, the port being set
    }) as unknown as Layer.Layer<MetricsServer.MetricsServer, unknown>)
    url = (await runtime.runPromise(MetricsServer.MetricsServer)).url
  }, 30_000)

  afterAll(async () => {
    await runtime?.dispose()
  })

  it("loads without a console error, moves while the engine runs, resumes a killed event stream, and is not blank", async () => {
    const executablePath = findChromium()
    if (executablePath === undefined) throw new Error("Chromium is required (TRADING_BUS_REQUIRE_CHROMIUM=1) but not found")
    const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] })
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      const problems: Array<string> = []
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(message.text())
      })
      page.on("pageerror", (error) => problems.push(error.message))
      page.on("requestfailed", (request) => {
        // the event stream aborted on purpose below is not a problem
        if (!request.url().endsWith("/events")) problems.push(`${request.url()}: ${request.failure()?.errorText}`)
      })

      await page.goto(`${url}/`)
      // the page's own expressions, as text: this file is compiled without the DOM's types
      const processedText = `Number(document.getElementById("processed").textContent)`
      const view = (field: string) => `window.tradingBusView.${field}`
      await page.waitForFunction(`document.getElementById("connection").textContent === "live"`)
      const processed = () => page.evaluate(processedText) as Promise<number>
      await page.waitForFunction(`${processedText} > 0`)
      const before = await processed()
      await page.waitForFunction(`${processedText} > ${before}`)
      // the engine's numbers and charts arrive: queues, the collector, a symbol, candles drawn
      expect(await page.textContent("#q-data")).toMatch(/^\d+\/\d+ · \d+\/s$/)
      expect(await page.textContent("#collector")).toMatch(/^connected · \d+$/)
      expect(await page.textContent("#symbol")).toMatch(/USDT$/)
      expect(await page.locator("#price canvas").count()).toBeGreaterThan(0)

      // the server ends the stream (as it does for a client that falls behind): the page reconnects by itself,
      // sending the last id it saw, gets a fresh snapshot and goes on
      const server = await runtime.runPromise(MetricsServer.MetricsServer)
      expect(await runtime.runPromise(server.web!.disconnectAll)).toBe(1)
      await page.waitForFunction(`${view("connections")} === 2`, undefined, { timeout: 10_000 })
      expect(Number(await page.evaluate(view("resumedFrom")))).toBeGreaterThan(0)
      const after = await processed()
      await page.waitForFunction(`${processedText} > ${after}`)
      expect(server.web!.clients()).toBe(1)

      // give the charts a few candles, then look at it as a person would
      await page.waitForFunction(`${view("messages")} > 20`)
      const png = join(mkdtempSync(join(tmpdir(), "trading-bus-web-")), "view.png")
      await page.screenshot({ path: png })
      expect(looksBlank(analyse(png))).toBe(false)
      expect(problems).toEqual([])
    } finally {
      await browser.close()
    }
  }, 60_000)

  it("serves the page, its charting script and the event stream on loopback, with no address outside the machine", async () => {
    const page = await (await fetch(`${url}/`)).text()
    expect(page).toContain(`<script src="/assets/lightweight-charts.js"></script>`)
    expect(page).not.toMatch(/(src|href)\s*=\s*"(https?:)?\/\//)
    const script = await fetch(`${url}/assets/lightweight-charts.js`)
    expect(script.headers.get("content-type")).toContain("javascript")
    expect(await script.text()).toContain("createChart")
    const events = await fetch(`${url}/events`, { headers: { "last-event-id": "7" } })
    expect(events.headers.get("content-type")).toBe("text/event-stream")
    const reader = events.body!.getReader()
    let text = ""
    while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value)
    expect(text).toMatch(/^retry: 1000\nid: \d+\nevent: snapshot\ndata: \{/)
    expect(text).toContain(`"resumedFrom":"7"`)
    await reader.cancel()
  }, 30_000)
})

