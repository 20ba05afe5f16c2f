import { describe, expect, it } from "vitest"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { analyse, chromiumSkipReason, looksBlank, screenshot } from "../support/chromium.js"
import { runCli } from "../support/cli.js"

const candles = "test/fixtures/binance/ADABTC-1m-2021-11-27.csv"
const trading = ["--quote-amount", "0.01", "--max-position-notional", "0.05", "--capital", "1"]

describe("backtest with a grid", () => {
  it("prints the ranked table, writes every combination as JSON and the heatmap page", async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "sweep-"))
    try {
      const json = join(dir, "sweep.json")
      const html = join(dir, "sweep.html")
      const r = await runCli(["backtest", "--candles", candles, ...trading, "--fast", "5:20:5", "--slow", "20:40:10", "--report-json", json, "--report", html, "--workers", "2"])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain("12 combinations of fast, slow on 2 worker threads")
      expect(r.stdout).toMatch(/#\s+fast\s+slow\s+sharpe/)
      expect(r.stdout).toContain("skipped 1: fast=20 slow=20")
      const report = JSON.parse(readFileSync(json, "utf8"))
      expect(report.results).toHaveLength(11)
      expect(report.results[0].rank).toBe(1)
      expect(report.results[0].report.sharpe).toBeGreaterThanOrEqual(report.results[10].report.sharpe)
      expect(readFileSync(html, "utf8")).toContain(`class="heat"`)
      const skip = chromiumSkipReason()
      if (skip !== undefined) return ctx.skip(skip)
      const png = join(dir, "sweep.png")
      await screenshot(html, png, { width: 1100, height: 900, timeoutMs: 20_000 })
      expect(looksBlank(analyse(png))).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("sweeps a module strategy's --param period=7:14:7, ranked by --rank-by", async () => {
    // the README's RSI strategy: its default export takes the --param pairs
    const r = await runCli(["backtest", "--candles", candles, ...trading, "--strategy", "examples/my-strategy.ts", "--param", "period=7:14:7", "--rank-by", "maxDrawdownPct"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("2 combinations of period")
    expect(r.stdout).toContain("ranked by maxDrawdownPct (lowest first)")
    expect(r.stdout).toMatch(/\n\s+1\s+(7|14)\s/)
  }, 120_000)

  it.each([
    [["--fast", "20:5:5"], "--fast"],
    [["--fast", "5:20:0"], "--fast"],
    [["--rank-by", "elapsedMs", "--fast", "5:10:5"], "--rank-by"],
    [["--strategy", "x.ts", "--param", "period=9:1:1"], "--param"]
  ])("refuses %j with exit 2 naming %s", async (args, flag) => {
    const r = await runCli(["backtest", "--candles", candles, ...args])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`invalid ${flag} `)
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("trading-bus:"))).toHaveLength(1)
  }, 60_000)
})
