import { execFileSync, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"

const root = fileURLToPath(new URL("../..", import.meta.url))

const has = (tool: string) => {
  try {
    execFileSync("which", [tool], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}
const hasScript = has("script")
const hasTmux = has("tmux")

const run = "node --import tsx src/programs/main.ts run --dashboard --duration 4s --metrics-port 0 --journal :memory:" +
  " --speed 100 --fast 2 --slow 5"
const env = { ...process.env, TRADING_BUS_METRICS_PORT: "0", TRADING_BUS_JOURNAL: ":memory:", NO_COLOR: "1" }

const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "")

/** What a dashboard screen must show once the engine has run a few seconds. */
const expectDashboard = (screen: string) => {
  expect(screen).toMatch(/── trading-bus ─ up \d+s ─ connected/)
  for (const queue of ["data", "signal", "order"]) {
    expect(screen).toMatch(new RegExp(`^ {2}${queue} +\\[[█░]{10,}\\] +\\d+/\\d+ {2}dropped \\d+ {2}failed \\d+`, "m"))
  }
  expect(screen).toMatch(/^events\/s +[\d.]+ [▁▂▃▄▅▆▇█]+/m)
  expect(screen).toMatch(/^collector connected {2}reconnects 0/m)
  expect(screen).toMatch(/^ {2}(BTCUSDT|ETHUSDT) +qty/m)
  expect(screen).toMatch(/^P&L {6}realized -?[\d.]+ {2}unrealized -?[\d.]+ {2}total -?[\d.]+/m)
  expect(screen).toMatch(/^ {2}\d\d:\d\d:\d\d (BTCUSDT|ETHUSDT) +(LONG|SHORT|CLOSE)/m)
}

/** Runs a command in script(1)'s pseudo-terminal of the given size; everything it wrote, stdout and stderr. */
const underScript = (command: string, size: { readonly cols: number; readonly rows: number }) =>
  new Promise<{ readonly code: number | null; readonly raw: string }>((resolve) => {
    const child = spawn("script", ["-q", "-c", `stty cols ${size.cols} rows ${size.rows} 2>/dev/null; exec ${command}`, "/dev/null"], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let raw = ""
    child.stdout.on("data", (d) => (raw += d))
    child.stderr.on("data", (d) => (raw += d))
    child.on("exit", (code) => resolve({ code, raw }))
  })

describe.skipIf(!hasScript && !hasTmux)("trading-bus run --dashboard in a terminal", () => {
  it.skipIf(!hasScript)("under script(1)'s pseudo-terminal: redraws the live view, then restores the screen and prints the summary", async () => {
    const { code, raw } = await underScript(run, { cols: 120, rows: 40 })
    expect(code).toBe(0)
    expect(raw).toContain("\x1b[?1049h") // the alternate screen
    const [, live = ""] = raw.split("\x1b[?1049h")
    const [view = "", after = ""] = live.split("\x1b[?1049l")
    const frames = view.split("\x1b[H").slice(1)
    // about 8 frames in 4 s; allow for a slow start
    expect(frames.length).toBeGreaterThanOrEqual(4)
    expectDashboard(stripAnsi(frames[frames.length - 1]!))
    expect(after).toContain("run summary")
    expect(after).not.toContain("──") // no frame after the terminal was restored
  }, 60_000)

  it.skipIf(!hasScript)("log lines go to the view's panel while it draws, never over it, and to the terminal after it", async () => {
    // every order is refused (a position limit below one order): the engine logs each refusal while the view draws
    const command = `${run.replace("--duration 4s", "--duration 3s")} --log-level debug --quote-amount 100 --max-position-notional 50`
    const { code, raw } = await underScript(command, { cols: 160, rows: 60 })
    expect(code).toBe(0)
    const [, live = ""] = raw.split("\x1b[?1049h")
    const [view = "", after = ""] = live.split("\x1b[?1049l")
    const logLine = /^\[\d\d:\d\d:\d\d\.\d{3}\] (DEBUG|INFO|WARN|ERROR)/m
    // a log line starts a line; in the view, they are indented in the panel
    expect(stripAnsi(view)).not.toMatch(logLine)
    const frames = view.split("\x1b[H").slice(1)
    const last = stripAnsi(frames[frames.length - 1]!)
    expect(last).toMatch(/^last log lines\n {2}\[[\d:.]+\] (DEBUG|INFO) \(#\d+\): /m)
    expect(last.slice(last.indexOf("last log lines"))).toMatch(/order \S+ refused/)
    // once the terminal is restored, the diverted lines are printed, before the summary
    const restored = stripAnsi(after)
    expect(restored).toMatch(logLine)
    expect(restored.indexOf("refused")).toBeLessThan(restored.indexOf("run summary"))
  }, 60_000)

  it.skipIf(!hasTmux)("in a tmux pane: the screen a user sees", async () => {
    const socket = `trading-bus-test-${process.pid}`
    const tmux = (...args: Array<string>) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { cwd: root, env, encoding: "utf8" })
    try {
      tmux("new-session", "-d", "-s", "dash", "-x", "120", "-y", "40", `cd ${root} && ${run}; sleep 60`)
      let screen = ""
      // starting through tsx takes seconds on a loaded machine
      for (let i = 0; i < 160; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250))
        screen = tmux("capture-pane", "-p", "-t", "dash")
        if (/^P&L/m.test(screen) && /^ {2}\d\d:\d\d:\d\d (BTCUSDT|ETHUSDT)/m.test(screen) && /up [3-9]s/.test(screen)) break
      }
      expectDashboard(screen)
    } finally {
      try {
        tmux("kill-server")
      } catch {
        // already gone
      }
    }
  }, 60_000)
})

if (!hasScript && !hasTmux) {
  describe("trading-bus run --dashboard in a terminal", () => {
    it.skip("needs script(1) (util-linux) or tmux to give the program a pseudo-terminal: neither is installed", () => {})
  })
}

describe("trading-bus run --dashboard without a terminal", () => {
  it("prints a one-line note and keeps the status lines", async () => {
    const { code, stdout } = await runCli(["run", "--dashboard", "--duration", "2s", "--status-interval", "500ms"])
    expect(code).toBe(0)
    expect(stdout).toContain("trading-bus: --dashboard needs a terminal (stdout is not a TTY); printing status lines instead")
    expect(stdout).toMatch(/candles\/s [\d.]+ \| queues data/)
    expect(stdout).not.toContain("\x1b[")
    expect(stdout).toContain("run summary")
  }, 60_000)
})
