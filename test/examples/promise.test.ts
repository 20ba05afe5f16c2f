import { describe, expect, it } from "vitest"
// @ts-expect-error: a plain JavaScript example, without types of its own
import { runTheEngine, useTheBus } from "../../examples/promise.mjs"

describe("examples/promise.mjs", () => {
  it("uses the bus from plain JavaScript: async handlers, exact money, a drain on close, BusClosedError after", async () => {
    expect(await useTheBus()).toEqual({
      closes: [42000, 42100, 42050],
      orders: ["BUY 0.001 BTCUSDT @ 42050.1"],
      processed: 4,
      afterClose: "BusClosedError"
    })
  })

  it("runs the engine with a plain-object strategy and resolves with its summary", async () => {
    const summary = await runTheEngine("2 seconds")
    expect(summary.candles["BTCUSDT"]).toBeGreaterThan(0)
    expect(summary.queues["data"]?.failed).toBe(0)
  })
})
