/**
 * A real `redis-server` for the tests: started on a free loopback port in a temporary folder (AOF on, no RDB
 * snapshots), stopped and removed afterwards.
 *
 * Policy (as for Chromium): a machine without `redis-server` skips these tests with a visible reason, unless
 * `TRADING_BUS_REQUIRE_REDIS=1` (CI sets it), in which case they run and fail.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./ports.js"

const found = (() => {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** Why the Redis tests should be skipped, or undefined to run them. */
export const redisSkipReason = (): string | undefined =>
  found || process.env.TRADING_BUS_REQUIRE_REDIS === "1"
    ? undefined
    : "redis-server not found on PATH; install Debian's redis-server package or set TRADING_BUS_REQUIRE_REDIS=1 to fail instead"

export interface RedisServer {
  readonly url: string
  readonly port: number
  /** Stops it (SIGTERM: with AOF on, what was acknowledged is on disk) and starts it again on the same port and folder. */
  readonly restart: (downMillis?: number) => Promise<void>
  readonly stop: () => Promise<void>
}

const waitReady = async (port: number) => {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    try {
      execFileSync("redis-cli", ["-p", String(port), "ping"], { stdio: "pipe" })
      return
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`redis-server on ${port} did not start`)
}

export const startRedis = async (): Promise<RedisServer> => {
  const dir = mkdtempSync(join(tmpdir(), "trading-bus-redis-"))
  const port = await freePort()
  let child: ChildProcess
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"], { stdio: "ignore" })
    await waitReady(port)
  }
  const stopChild = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill("SIGTERM")
    })
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    restart: async (downMillis = 500) => {
      await stopChild()
      await new Promise((r) => setTimeout(r, downMillis))
      await start()
    },
    stop: async () => {
      await stopChild()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
