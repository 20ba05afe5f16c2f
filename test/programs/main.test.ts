import { mkdtempSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { runCli, startCli } from "../support/cli.js"

const tmp = () => mkdtempSync(join(tmpdir(), "trading-bus-"))

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

describe("the trading-bus program", () => {
  it("run --duration 5s prints its summary, writes it as JSON, and exits 0", async () => {
    const file = join(tmp(), "summary.json")
    const { code, stdout } = await runCli([
      "run",
      "--duration",
      "5s",
      "--speed",
      "50",
      "--fast",
      "3",
      "--slow",
      "8",
      "--status-interval",
      "1s",
      "--summary-json",
      file
    ])
    expect(code).toBe(0)
    expect(stdout).toContain("run summary")
    expect(stdout).toMatch(/candles\/s [\d.]+ \| queues data/)
    const summary = JSON.parse(readFileSync(file, "utf8"))
    expect(Object.keys(summary)).toEqual(
      expect.arrayContaining(["candles", "signals", "orders", "fills", "rejected", "queues", "collector", "positions", "pnl"])
    )
    expect(summary.candles.BTCUSDT).toBeGreaterThan(100)
    expect(summary.orders).toBe(summary.fills + summary.rejected)
    expect(Object.keys(summary.queues)).toEqual(["data", "signal", "order"])
    expect(summary.queues.data).toEqual({ processed: expect.any(Number), dropped: 0, failed: 0 })
    expect(summary.collector).toMatchObject({ malformed: 0, reconnects: 0 })
    expect(typeof summary.pnl.realized).toBe("string")
    for (const q of Object.values(summary.positions)) expect(q).toMatch(/^-?\d+(\.\d+)?$/)
  }, 60_000)

  it("--source binance with the exchange unreachable names the host and cause, and counts the failures", async () => {
    const file = join(tmp(), "summary.json")
    const port = await freePort() // closed: connections are refused
    const { code, stderr, stdout } = await runCli([
      "run",
      "--source",
      "binance",
      "--ws-url",
      `ws://user:s3cret@127.0.0.1:${port}`,
      "--rest-url",
      `http://127.0.0.1:${port}`,
      "--duration",
      "4s",
      "--summary-json",
      file
    ])
    expect(code).toBe(0)
    expect(stderr).toContain(`cannot connect to 127.0.0.1:${port}: connection to 127.0.0.1:${port} refused`)
    expect(stderr).not.toContain("An error occurred during Open")
    expect(stderr + stdout).not.toContain("s3cret")
    expect(stdout).toMatch(/[1-9]\d* connection failures/)
    const summary = JSON.parse(readFileSync(file, "utf8"))
    expect(summary.collector.connectionFailures).toBeGreaterThanOrEqual(2)
    expect(summary.collector).toMatchObject({ gaps: 0, ignored: 0 })
  }, 60_000)

  it("SIGINT during heavy flow drains, loses no order, prints the summary and exits 0", async () => {
    const file = join(tmp(), "summary.json")
    const cli = startCli([
      "run",
      "--speed",
      "1000",
      "--fast",
      "2",
      "--slow",
      "3",
      "--max-open-orders",
      "50",
      "--status-interval",
      "300ms",
      "--summary-json",
      file
    ])
    await cli.waitFor("candles/s")
    cli.child.kill("SIGINT")
    const { code, stdout } = await cli.finished
    expect(code).toBe(0)
    expect(stdout).toContain("run summary")
    const summary = JSON.parse(readFileSync(file, "utf8"))
    expect(summary.orders).toBeGreaterThan(0)
    expect(summary.orders).toBe(summary.fills + summary.rejected)
  }, 60_000)

  it("serves /metrics and the health checks on --metrics-port while it runs", async () => {
    const port = await freePort()
    const cli = startCli(["run", "--speed", "100", "--fast", "2", "--slow", "3", "--metrics-port", String(port)])
    await cli.waitFor("trading-bus: simulator")
    const base = `http://127.0.0.1:${port}`
    const scrape = async () => (await fetch(`${base}/metrics`)).text()
    const first = await scrape()
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const second = await scrape()
    const messages = (text: string) =>
      Number(/^trading_bus_collector_messages_total\{source="simulator"\} (\d+)/m.exec(text)?.[1] ?? "0")
    expect(messages(second)).toBeGreaterThan(messages(first))
    expect(second).toContain("# TYPE trading_bus_handler_duration_seconds histogram")
    expect(second).toMatch(/^trading_bus_events_processed_total\{queue="data",type="CandleClosed"\} \d+/m)
    expect((await fetch(`${base}/health/live`)).status).toBe(200)
    expect((await fetch(`${base}/health/ready`)).status).toBe(200)
    cli.child.kill("SIGINT")
    expect((await cli.finished).code).toBe(0)
  }, 60_000)

  it("a metrics port already in use is a configuration error naming --metrics-port", async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as AddressInfo).port
    try {
      const { code, stderr } = await runCli(["run", "--duration", "1s", "--metrics-port", String(port)])
      expect(code).toBe(2)
      expect(stderr).toContain("--metrics-port")
    } finally {
      server.close()
    }
  }, 60_000)

  it("simulate serves Binance's REST and kline streams until SIGINT", async () => {
    const cli = startCli(["simulate", "--port", "0", "--speed", "50"])
    await cli.waitFor("simulated exchange: ws")
    const wsUrl = /simulated exchange: ws (ws:\/\/[^/\s]+)/.exec((await cli.output()).stdout)![1]!
    const rest = wsUrl.replace("ws://", "http://")
    expect(await (await fetch(`${rest}/api/v3/ping`)).json()).toEqual({})
    // the market opens with its first subscriber: wait for a closed kline on the stream
    const socket = new WebSocket(`${wsUrl}/stream?streams=btcusdt@kline_1m`)
    await new Promise<void>((resolve) =>
      socket.on("message", (data) => {
        if ((JSON.parse(String(data)) as { data: { k: { x: boolean } } }).data.k.x) resolve()
      })
    )
    socket.terminate()
    const klines = (await (await fetch(`${rest}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=3`)).json()) as Array<
      Array<unknown>
    >
    expect(klines.length).toBeGreaterThan(0)
    expect(klines[0]).toHaveLength(12)
    cli.child.kill("SIGINT")
    expect((await cli.finished).code).toBe(0)
  }, 60_000)

  it("a second SIGINT exits at once with code 130", async () => {
    // a slow broker keeps orders in flight, so the drain after the first SIGINT takes seconds
    const cli = startCli(["run", "--speed", "1000", "--fast", "2", "--slow", "3", "--broker-latency", "5s"])
    await cli.waitFor("trading-bus: simulator")
    await new Promise((resolve) => setTimeout(resolve, 1000))
    cli.child.kill("SIGINT")
    await cli.waitForError("stopping")
    // a SIGINT within 500 ms of the first is the same Ctrl-C delivered twice (npm forwards it to the group's child)
    await new Promise((resolve) => setTimeout(resolve, 700))
    cli.child.kill("SIGINT")
    const { code } = await cli.finished
    expect(code).toBe(130)
  }, 60_000)

  it.each([
    [["run", "--duration", "soon"], "--duration"],
    [["run", "--symbols", "btc usdt"], "--symbols"],
    [["run", "--fast", "30"], "--fast"],
    [["run", "--interval", "7m"], "--interval"]
  ])("a configuration error (%j) exits 2 naming the flag", async (args, flag) => {
    const { code, stderr } = await runCli(args)
    expect(code).toBe(2)
    expect(stderr).toContain(flag)
  }, 60_000)

  it("--help describes every command", async () => {
    for (const command of [[], ["run"], ["simulate"], ["demo"]]) {
      const { code, stdout } = await runCli([...command, "--help"])
      expect(code).toBe(0)
      expect(stdout).toContain("USAGE")
    }
  }, 60_000)
})
