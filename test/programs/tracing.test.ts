import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { runCli, startCli } from "../support/cli.js"
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlpReceiver.js"

const summaryFile = () => join(mkdtempSync(join(tmpdir(), "trading-bus-")), "summary.json")

let receiver: OtlpReceiver
beforeEach(async () => {
  // a collector that takes its time to answer: the process must still wait for the last export
  receiver = await startOtlpReceiver({ delayMs: 200 })
})
afterEach(() => receiver.close())

/** The bus's handler spans the receiver holds, and the distinct events they cover on each queue. */
const received = () => {
  const spans = receiver.spans.filter((s) => s.name === "trading-bus.handler")
  const events = (queue: string) =>
    new Set(spans.filter((s) => s.attributes["queue"] === queue).map((s) => s.attributes["eventId"])).size
  return { spans, handlers: new Set(spans.map((s) => s.attributes["handler"])), events }
}

/**
 * Every event the run processed had its handlers' spans exported before the
 * process exited: on each queue, the distinct event ids in the spans are the
 * summary's `processed` (every event type of the engine has a subscriber).
 */
const expectEveryProcessedEvent = (file: string) => {
  const summary = JSON.parse(readFileSync(file, "utf8"))
  const { events } = received()
  for (const queue of ["data", "signal", "order"]) {
    expect({ queue, events: events(queue) }).toEqual({ queue, events: summary.queues[queue].processed })
  }
  return summary
}

const run = (speed: number) => ["run", "--speed", String(speed), "--fast", "2", "--slow", "3", "--max-open-orders", "50"]

describe("trading-bus run with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  it("exports the strategy's and the order handlers' spans, all of them by the time the process exits", async () => {
    const file = summaryFile()
    const { code, stderr } = await runCli([...run(50), "--duration", "2s", "--summary-json", file], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: "trading-bus-test"
    })
    expect({ code, stderr }).toMatchObject({ code: 0 })
    expect(receiver.rejected).toEqual([])
    expect(receiver.requests.every((r) => r.path === "/v1/traces")).toBe(true)
    const { handlers, spans } = received()
    expect([...handlers]).toEqual(
      expect.arrayContaining(["strategy", "mark-to-market", "order-manager", "broker", "portfolio"])
    )
    expect(spans.every((s) => s.resource["service.name"] === "trading-bus-test")).toBe(true)
    const summary = expectEveryProcessedEvent(file)
    expect(summary.orders).toBeGreaterThan(0)
  }, 30_000)

  it("on SIGINT, the spans of the drain are exported before the process exits", async () => {
    const file = summaryFile()
    const cli = startCli([...run(200), "--status-interval", "300ms", "--summary-json", file], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url
    })
    await cli.waitFor("candles/s")
    cli.child.kill("SIGINT")
    const { code } = await cli.finished
    expect(code).toBe(0)
    expect(received().handlers).toContain("broker")
    expectEveryProcessedEvent(file)
  }, 30_000)

  it("TRADING_BUS_TRACING=false turns the bus's spans off even with an endpoint", async () => {
    const { code } = await runCli([...run(50), "--duration", "1s"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      TRADING_BUS_TRACING: "false"
    })
    expect(code).toBe(0)
    expect(received().spans).toEqual([])
  }, 30_000)

  it("an endpoint that is not a URL stops the program with exit code 2, naming the variable", async () => {
    const { code, stderr } = await runCli([...run(50), "--duration", "1s"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318"
    })
    expect(code).toBe(2)
    expect(stderr).toContain(
      "trading-bus: invalid OTEL_EXPORTER_OTLP_ENDPOINT \"localhost:4318\": expected the collector's OTLP/HTTP base URL"
    )
  }, 30_000)
})
