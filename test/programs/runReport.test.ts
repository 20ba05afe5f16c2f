import { describe, expect, it } from "vitest"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { formatAmount } from "../../src/domain/Decimal.js"
import { chromiumSkipReason, looksBlank, screenshotReport } from "../support/chromium.js"
import { runCli, startCli } from "../support/cli.js"

const tmp = () => mkdtempSync(join(tmpdir(), "run-report-"))

describe("trading-bus run --report", () => {
  it("writes a self-contained HTML report at the end: equity, queue depths and events/s over time; it renders in headless Chromium", async (ctx) => {
    const dir = tmp()
    const html = join(dir, "run.html")
    const summary = join(dir, "summary.json")
    const run = await runCli([
      "run", "--duration", "3s", "--speed", "100", "--fast", "2", "--slow", "5",
      "--report", html, "--summary-json", summary, "--log-level", "none"
    ])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`report written to ${html}`)
    const page = readFileSync(html, "utf8")
    const totals = JSON.parse(readFileSync(summary, "utf8"))
    for (const text of ["trading-bus run: simulator", "Equity", "Queue depths", "Events handled per second", "Positions"]) {
      expect(page).toContain(text)
    }
    // the summary's numbers are the page's
    expect(page).toContain(`>${totals.signals}<`)
    expect(page).toContain(formatAmount(totals.pnl.realized)) // the page rounds to 8 decimals, the JSON is exact
    expect((page.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(3)
    expect(page).not.toMatch(/(src|href)\s*=\s*"(https?:)?\/\//)
    const skip = chromiumSkipReason()
    ctx.skip(skip !== undefined, skip)
    expect(looksBlank(await screenshotReport(html))).toBe(false)
  }, 90_000)

  it("is written when the run is stopped with Ctrl-C too", async () => {
    const html = join(tmp(), "stopped.html")
    const cli = startCli(["run", "--speed", "50", "--report", html, "--log-level", "none"])
    await cli.waitFor("trading-bus: simulator")
    await new Promise((resolve) => setTimeout(resolve, 1500))
    cli.child.kill("SIGINT")
    const done = await cli.finished
    expect(done.code).toBe(0)
    expect(existsSync(html)).toBe(true)
    expect(readFileSync(html, "utf8")).toContain("Queue depths")
  }, 90_000)

  it("a --report in a folder that does not exist fails at start with exit 2", async () => {
    const run = await runCli(["run", "--duration", "1s", "--report", "/nonexistent/folder/run.html"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("--report")
    expect(run.stderr).toContain("folder does not exist")
  }, 60_000)
})
