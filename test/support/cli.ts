import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

export interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** `trading-bus <args>` as a child process, the way a user runs it (through tsx, without a build). */
export const startCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/programs/main.ts", ...args], {
    cwd: root,
    // by default a run neither binds the metrics port nor touches ./data: tests run side by side
    env: { ...process.env, TRADING_BUS_METRICS_PORT: "0", TRADING_BUS_JOURNAL: ":memory:", ...env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d) => (stdout += d))
  child.stderr!.on("data", (d) => (stderr += d))
  const finished = new Promise<Finished>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
  const waitOn = (stream: "stdout" | "stderr", text: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${text}" in: ${stdout}\n${stderr}`)), timeoutMs)
      const check = () => {
        if ((stream === "stdout" ? stdout : stderr).includes(text)) {
          clearTimeout(timer)
          resolve()
        }
      }
      child[stream]!.on("data", check)
      check()
    })
  /** Resolves once stdout contains `text`. */
  const waitFor = (text: string, timeoutMs = 30_000) => waitOn("stdout", text, timeoutMs)
  /** Resolves once stderr contains `text`. */
  const waitForError = (text: string, timeoutMs = 30_000) => waitOn("stderr", text, timeoutMs)
  /** What the process printed so far. */
  const output = async () => ({ stdout, stderr })
  return { child, finished, waitFor, waitForError, output }
}

export const runCli = (args: ReadonlyArray<string>, env?: Record<string, string>) => startCli(args, env).finished
