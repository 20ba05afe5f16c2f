import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { startCli } from "../support/cli.js"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** Whether any process of the group `pgid` is left. */
const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

const groupGone = async (pgid: number) => {
  for (let i = 0; i < 50 && groupAlive(pgid); i++) await new Promise((resolve) => setTimeout(resolve, 100))
  return !groupAlive(pgid)
}

/** `npm start` in a process group of its own, as a terminal runs it. */
const npmStart = () => {
  const child = spawn("npm", ["start", "--", "--speed", "50", "--status-interval", "500ms"], {
    cwd: root,
    detached: true,
    env: { ...process.env, TRADING_BUS_METRICS_PORT: "0", TRADING_BUS_JOURNAL: ":memory:", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  child.stdout.on("data", (d) => (stdout += d))
  child.stderr.on("data", () => {})
  const finished = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const running = new Promise<void>((resolve) => child.stdout.on("data", () => stdout.includes("candles/s") && resolve()))
  return { child, finished, running, stdout: () => stdout }
}

describe("stopping trading-bus", () => {
  it.each([
    // Ctrl-C: the terminal signals the whole group (npm and the engine), and npm forwards it once more
    ["Ctrl-C (SIGINT to the process group)", (pid: number) => process.kill(-pid, "SIGINT")],
    // a supervisor's SIGTERM to npm alone: npm forwards it to the engine, which must not be left behind
    ["SIGTERM to npm", (pid: number) => process.kill(pid, "SIGTERM")]
  ])("npm start, stopped by %s, exits 0 with the summary and leaves no process", async (_, stop) => {
    const npm = npmStart()
    await npm.running
    stop(npm.child.pid!)
    expect(await npm.finished).toBe(0)
    expect(npm.stdout()).toContain("run summary")
    expect(await groupGone(npm.child.pid!)).toBe(true)
  }, 120_000)

  it("SIGTERM stops with the summary and exit 0; a second SIGTERM does not cut the drain short", async () => {
    // a slow broker keeps orders in flight, so the drain after the first SIGTERM takes seconds
    const cli = startCli(["run", "--speed", "1000", "--fast", "2", "--slow", "3", "--broker-latency", "2s"])
    await cli.waitFor("trading-bus: simulator")
    await new Promise((resolve) => setTimeout(resolve, 1000))
    cli.child.kill("SIGTERM")
    await cli.waitForError("stopping")
    await new Promise((resolve) => setTimeout(resolve, 700))
    cli.child.kill("SIGTERM")
    const { code, stdout } = await cli.finished
    expect(code).toBe(0)
    expect(stdout).toContain("run summary")
  }, 120_000)
})
