import { describe, expect, it } from "vitest"
import {
  BusClosedError,
  createTradingBus,
  EventBusConfigError,
  InvalidEventError,
  QueueFullError,
  runEngine
} from "trading-bus/promise"

const signal = (n: number) => ({
  type: "SignalGenerated" as const,
  payload: { symbol: "BTCUSDT", direction: "LONG" as const, price: 100 + n, strategy: "test", reason: `#${n}`, timestamp: n }
})

const order = (n: number) => ({
  type: "OrderCreated" as const,
  payload: {
    clientOrderId: `o-${n}`,
    symbol: "BTCUSDT",
    side: "BUY" as const,
    type: "MARKET" as const,
    quantity: "0.00100000",
    price: "42000.12345678",
    status: "NEW" as const,
    createdAt: n,
    updatedAt: n
  }
})

/** A promise and its resolver, to hold a handler until the test lets it go. */
const gate = () => {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { open, opened }
}

const quiet = { logLevel: "none" as const }

describe("trading-bus/promise: createTradingBus", () => {
  it("runs async handlers in subscription order with events in wire form, money as exact strings", async () => {
    const bus = createTradingBus(quiet)
    const seen: Array<string> = []
    await bus.subscribe("OrderCreated", async (e) => {
      await new Promise((r) => setTimeout(r, 1))
      seen.push(`a:${e.payload.clientOrderId}:${e.payload.price}`)
    })
    await bus.subscribe("OrderCreated", (e) => void seen.push(`b:${e.payload.clientOrderId}:${e.payload.quantity}`))
    await bus.publishAll([order(1), order(2)])
    await bus.close()
    expect(seen).toEqual([
      "a:o-1:42000.12345678",
      "b:o-1:0.001",
      "a:o-2:42000.12345678",
      "b:o-2:0.001"
    ])
    expect((await bus.stats()).order.processed).toBe(2)
  })

  it("counts a failing handler and runs the others", async () => {
    const bus = createTradingBus(quiet)
    const ran: Array<number> = []
    await bus.subscribe("SignalGenerated", async () => {
      throw new Error("boom")
    })
    await bus.subscribe("SignalGenerated", async (e) => void ran.push(e.payload.price))
    await bus.publishAll([signal(1), signal(2)])
    await bus.close()
    expect(ran).toEqual([101, 102])
    expect((await bus.stats()).signal.failed).toBe(2)
  })

  it("drains on close(): every event published before it is handled once it resolves", async () => {
    const bus = createTradingBus(quiet)
    const handled: Array<string> = []
    await bus.subscribe("OrderCreated", async (e) => {
      await new Promise((r) => setTimeout(r, 5))
      handled.push(e.payload.clientOrderId)
    })
    await bus.publishAll([1, 2, 3, 4, 5].map(order))
    expect(handled.length).toBeLessThan(5)
    await bus.close()
    expect(handled).toEqual(["o-1", "o-2", "o-3", "o-4", "o-5"])
    await bus.close() // idempotent
  })

  it("rejects with QueueFullError, an Error with the Effect error's _tag and fields, when the signal queue stays full", async () => {
    const bus = createTradingBus({ ...quiet, signalCapacity: 1, signalPublishTimeout: "1 millis" })
    const held = gate()
    await bus.subscribe("SignalGenerated", () => held.opened)
    await bus.publish(signal(1)) // in the handler's hands
    await bus.publish(signal(2)) // queued: the queue is full
    const error = await bus.publish(signal(3)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(QueueFullError)
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ _tag: "QueueFullError", queue: "signal", size: 1, capacity: 1 })
    expect((error as Error).message).toBe("the signal queue is full (1/1)")
    held.open()
    await bus.close()
    expect((await bus.stats()).signal.processed).toBe(2)
  })

  it("rejects with BusClosedError once closed, with the queue's numbers", async () => {
    const bus = createTradingBus(quiet)
    await bus.publish(order(1))
    await bus.close()
    const error = await bus.publish(order(2)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BusClosedError)
    expect(error).toMatchObject({ _tag: "BusClosedError", queue: "order", capacity: 50 })
    // a bus closed before it ever started answers the same way
    const never = createTradingBus(quiet)
    await never.close()
    await expect(never.publish(signal(1))).rejects.toMatchObject({ _tag: "BusClosedError", queue: "signal", size: 0, capacity: 100 })
  })

  it("an AbortSignal cancels a publish waiting for room; the event is never queued", async () => {
    const bus = createTradingBus({ ...quiet, orderCapacity: 1 })
    const held = gate()
    const handled: Array<string> = []
    await bus.subscribe("OrderCreated", async (e) => {
      await held.opened
      handled.push(e.payload.clientOrderId)
    })
    await bus.publish(order(1))
    await bus.publish(order(2))
    const controller = new AbortController()
    const waiting = bus.publish(order(3), { signal: controller.signal })
    await new Promise((r) => setTimeout(r, 20)) // it waits: the order queue never drops
    controller.abort(new Error("the user gave up"))
    await expect(waiting).rejects.toThrow("the user gave up")
    // an already aborted signal rejects at once
    await expect(bus.publish(order(4), { signal: AbortSignal.abort("too late") })).rejects.toBe("too late")
    held.open()
    await bus.close()
    expect(handled).toEqual(["o-1", "o-2"])
  })

  it("throws EventBusConfigError at once for an option that cannot work, and rejects an invalid event with InvalidEventError", async () => {
    expect(() => createTradingBus({ dataCapacity: 0 })).toThrow(EventBusConfigError)
    try {
      // @ts-expect-error: a plain JavaScript caller can pass anything
      createTradingBus({ handlerTimeout: "soon" })
    } catch (error) {
      expect(error).toMatchObject({ _tag: "EventBusConfigError", setting: "handlerTimeout", value: "soon" })
    }
    const bus = createTradingBus(quiet)
    const bad = { ...order(1), payload: { ...order(1).payload, quantity: 12 } }
    // @ts-expect-error: a plain JavaScript caller can pass anything
    const error = await bus.publish(bad).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidEventError)
    expect(error).toMatchObject({ _tag: "InvalidEventError", type: "OrderCreated" })
    expect((error as Error).message).toContain("quantity")
    // @ts-expect-error: an unknown type
    await expect(bus.publish({ type: "Nope", payload: {} })).rejects.toMatchObject({ _tag: "InvalidEventError", type: "Nope" })
    await bus.close()
  })
})

describe("trading-bus/promise: runEngine", () => {
  it("runs the engine with a plain-object strategy until its signal aborts, then resolves with the summary", async () => {
    const controller = new AbortController()
    const decided: Array<string> = []
    const running = runEngine({
      source: { _tag: "Simulator", symbols: ["btcusdt"], seed: 11, speed: 100 },
      journal: false,
      metrics: false,
      strategy: {
        name: "alternate",
        analyze: async (_candle, { position }) => {
          decided.push(position)
          return position === "0" ? { direction: "LONG", reason: "flat" } : { direction: "CLOSE", reason: "holding" }
        }
      }
    }, { signal: controller.signal })
    const deadline = Date.now() + 15_000
    while (decided.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    controller.abort()
    const summary = await running
    expect(summary.candles["BTCUSDT"]).toBeGreaterThanOrEqual(6)
    expect(summary.signals).toBeGreaterThanOrEqual(2)
    expect(summary.fills).toBeGreaterThanOrEqual(2)
    expect(decided).toContain("0")
    expect(decided.some((p) => p !== "0")).toBe(true)
  })

  it("rejects with the engine's start-up error, an Error with its _tag", async () => {
    const error = await runEngine({ strategy: { sma: { fast: 9, slow: 3 } }, journal: false, metrics: false, duration: "1 second" })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as { _tag?: string })._tag).toBeTypeOf("string")
  })
})
