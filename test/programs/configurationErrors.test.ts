import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"

/** A port something else holds for the duration of `use`. */
const withBusyPort = async <A>(use: (port: number) => Promise<A>) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  try {
    return await use((server.address() as AddressInfo).port)
  } finally {
    server.close()
  }
}

const freePort = () => withBusyPort(async (port) => port)

/** Each case: arguments, environment, and the one line expected on stderr (the rest are checked in-process, in Flags.test.ts). */
const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, Record<string, string>, string]> = [
  ["a capacity that is not a number", ["run"], { TRADING_BUS_DATA_CAPACITY: "abc" }, `trading-bus: invalid TRADING_BUS_DATA_CAPACITY "abc": expected a whole number from 1 to 1000000`],
  ["a negative duration", ["run"], { TRADING_BUS_DRAIN_TIMEOUT: "-1 seconds" }, `trading-bus: invalid TRADING_BUS_DRAIN_TIMEOUT "-1 seconds": expected a duration from 1ms to 24d, such as 500ms, 5s or "5 seconds"`],
  ["an unknown source", ["run", "--source", "foo"], {}, `trading-bus: invalid --source "foo": expected sim or binance`],
  ["a negative burst", ["demo", "--events", "-5"], {}, `trading-bus: invalid --events "-5": expected a whole number from 1 to 1000000`],
  ["a bus that is not Redis", ["run", "--bus", "kafka://x"], {}, `trading-bus: invalid --bus "kafka://x": expected memory, or a Redis URL such as redis://127.0.0.1:6379`],
  ["a role without a Redis bus", ["run", "--role", "engine"], {}, `trading-bus: invalid --role "engine": a role needs a Redis --bus (such as --bus redis://127.0.0.1:6379); in memory one process is all`],
  ["a web view without its server", ["run", "--web", "--metrics-port", "0"], {}, `trading-bus: invalid --web true: the web view is served by the metrics server: give --metrics-port a port from 1 to 65535, not 0`]
]

const expectOneLine = (result: { code: number | null; stderr: string }, line: string) => {
  expect(result.stderr.trim()).toBe(line)
  expect(result.stderr).not.toMatch(/^\s+at /m) // no stack trace
  expect(result.code).toBe(2)
}

describe("configuration errors: one line naming the flag or variable, the value and what is accepted, exit 2", () => {
  // child processes are slow to start on a loaded machine: the cases run side by side
  it("for flags and environment variables of run and demo", async () => {
    const results = await Promise.all(cases.map(([, args, env]) => runCli(args, env)))
    results.forEach((result, i) => {
      const [what, , , line] = cases[i]!
      expect({ what, stderr: result.stderr.trim() }).toEqual({ what, stderr: line })
      expectOneLine(result, line)
    })
  }, 120_000)

  it("simulate --port in use, and run --metrics-host that is not this machine's", async () => {
    await withBusyPort(async (busy) => {
      const port = await freePort()
      const [simulate, run] = await Promise.all([
        runCli(["simulate", "--port", String(busy)]),
        runCli(["run", "--duration", "2s", "--metrics-port", String(port), "--metrics-host", "10.9.9.9"])
      ])
      expectOneLine(
        simulate,
        `trading-bus: invalid --port ${busy}: cannot listen on 127.0.0.1:${busy} (in use): pick another port, or 0 for a free one`
      )
      expectOneLine(
        run,
        `trading-bus: invalid --metrics-host "10.9.9.9": cannot listen on 10.9.9.9 (EADDRNOTAVAIL): give an address of this machine, such as 127.0.0.1 or 0.0.0.0`
      )
    })
  }, 120_000)

  it("environment durations take the flags' syntax (5s), and --help shows each flag's range and default, --log-level once", async () => {
    const [run, help] = await Promise.all([
      runCli(["run", "--duration", "1s"], { TRADING_BUS_DRAIN_TIMEOUT: "5s", TRADING_BUS_HANDLER_TIMEOUT: "2 seconds" }),
      runCli(["run", "--help"])
    ])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("run summary")
    expect(help.code).toBe(0)
    const text = help.stdout.replace(/\x1b\[[0-9;]*m/g, "")
    for (
      const expected of [
        "(a whole number from 1 to 1000; default 9)",
        "(a number from 0 to 1000; default 5)",
        "(a whole number from 0 to 4294967295; default 42)",
        "(a whole number from 0 to 65535; default 9464; env TRADING_BUS_METRICS_PORT)",
        "(sim or binance; default sim; binance with --testnet, or with --broker binance on an exchange)",
        "(paper or binance; default paper)",
        "(a whole number from 1 to 60000; default 5000)",
        "(one of trace, debug, info, warning, error, none; default info; env TRADING_BUS_LOG_LEVEL)"
      ]
    ) expect(text).toContain(expected)
    expect(text.match(/^--log-level/gm)).toHaveLength(1)
  }, 120_000)
})
