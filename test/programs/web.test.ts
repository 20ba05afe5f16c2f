import { describe, expect, it } from "vitest"
import { startCli } from "../support/cli.js"
import { freePort } from "../support/ports.js"

describe("trading-bus run --web", () => {
  it("serves the page and its event stream while it runs, and exits 0 at its end with a browser still connected", async () => {
    const port = await freePort()
    const cli = startCli(["run", "--web", "--duration", "8s", "--speed", "50", "--log-level", "none"], { TRADING_BUS_METRICS_PORT: String(port) })
    const url = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 30_000
    while (!(await fetch(`${url}/health/live`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`no server on ${url}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(await (await fetch(`${url}/`)).text()).toContain("trading-bus")
    const events = await fetch(`${url}/events`)
    const reader = events.body!.getReader()
    let text = ""
    const streamEnded = (async () => {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += new TextDecoder().decode(chunk.value)
    })()
    const finished = await cli.finished
    await streamEnded
    expect(finished.code).toBe(0)
    expect(text).toMatch(/^retry: 1000\nid: \d+\nevent: snapshot\n/)
    expect(text).toContain("event: status")
  }, 60_000)
})
