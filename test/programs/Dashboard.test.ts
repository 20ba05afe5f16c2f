import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Console, Effect, Fiber, TestClock } from "effect"
import type { Position } from "../../src/domain/Position.js"
import { bar, frame, redraw, render, sparkline } from "../../src/programs/Dashboard.js"
import type { Snapshot } from "../../src/programs/Summary.js"

const d = BigDecimal.unsafeFromString

const position = (symbol: string, quantity: string): Position => ({
  symbol,
  quantity: d(quantity),
  averageEntryPrice: d("42000.5"),
  markPrice: d("42100"),
  realizedPnl: d("1.25"),
  unrealizedPnl: d("0.1"),
  updatedAt: 0
})

const snapshot = (overrides: Partial<Snapshot> = {}): Snapshot => ({
  bus: {
    data: { size: 500, capacity: 1000, dropped: 7, processed: 1200, failed: 0 },
    signal: { size: 0, capacity: 100, dropped: 0, processed: 30, failed: 2 },
    order: { size: 50, capacity: 50, dropped: 0, processed: 80, failed: 0 }
  },
  engine: { candles: { BTCUSDT: 600, ETHUSDT: 600 }, signals: 30, orders: 20, fills: 19, rejected: 1, errors: 1 },
  collector: {
    messages: 2400,
    malformed: 1,
    reconnects: 3,
    connectionFailures: 4,
    backfilled: 12,
    gaps: 2,
    candles: 1200,
    connected: true
  },
  positions: [position("BTCUSDT", "0.0024"), position("ETHUSDT", "-0.5")],
  pnl: { realized: d("12.123456789"), unrealized: d("-0.5") },
  ...overrides
})

const history = {
  rates: [0, 50, 100, 200, 100],
  signals: [
    { symbol: "BTCUSDT", direction: "LONG" as const, price: 42000.1, strategy: "sma", reason: "fast crossed above slow", timestamp: 0 }
  ],
  errors: [{ component: "order-manager", message: "5 orders open\nsecond line", cause: "", at: 60_000 }],
  uptimeMillis: 12_345
}

describe("Dashboard.render", () => {
  it("shows per-queue bars with sizes, capacities, dropped and failed counts", () => {
    const screen = render(snapshot(), history, 120)
    const lines = screen.split("\n")
    const data = lines.find((l) => l.startsWith("  data"))!
    expect(data).toMatch(/\[█{20}░{20}\]\s+500\/1000 {2}dropped 7 {2}failed 0 {2}processed 1200$/)
    expect(lines.find((l) => l.startsWith("  signal"))).toMatch(/\[░{40}\]\s+0\/100 {2}dropped 0 {2}failed 2/)
    expect(lines.find((l) => l.startsWith("  order"))).toMatch(/\[█{40}\]\s+50\/50/)
    expect(lines[0]).toContain("up 12s")
    expect(lines[0]).toContain("connected")
  })

  it("shows events/s with a sparkline of the history, the collector, positions and P&L", () => {
    const screen = render(snapshot(), history, 120)
    expect(screen).toContain("events/s     100.0 ▁▃▅█▅  (max 200.0, last 5 samples)")
    expect(screen).toContain(
      "collector connected  reconnects 3  connection failures 4  messages 2400  malformed 1  backfilled 12  gaps 2"
    )
    expect(screen).toContain("engine   candles 1200  signals 30  orders 20 (19 filled, 1 rejected)  errors 1")
    expect(screen).toMatch(/BTCUSDT +qty +0\.0024 +entry 42000\.5 +mark 42100 +unrealized 0\.1 +realized 1\.25/)
    expect(screen).toMatch(/ETHUSDT +qty +-0\.5/)
    expect(screen).toContain("P&L      realized 12.12345679  unrealized -0.5  total 11.62345679")
  })

  it("lists the last signals and errors (first line of a message), or none", () => {
    const screen = render(snapshot(), history, 120)
    expect(screen).toContain("  00:00:00 BTCUSDT    LONG  @ 42000.1  sma: fast crossed above slow")
    expect(screen).toContain("  00:01:00 order-manager: 5 orders open")
    expect(screen).not.toContain("second line")
    const empty = render(snapshot({ positions: [] }), { rates: [], signals: [], errors: [] }, 120)
    expect(empty.match(/^ {2}none$/gm)).toHaveLength(3)
    expect(empty).toContain("events/s       0.0   (max 0.0, last 0 samples)")
  })

  it("says DISCONNECTED when the collector is down", () => {
    const down = snapshot({ collector: { ...snapshot().collector, connected: false } })
    expect(render(down, history, 120)).toContain("collector DISCONNECTED")
  })

  it("keeps every line within the width, narrow or wide", () => {
    for (const width of [40, 60, 80, 200]) {
      for (const line of render(snapshot(), history, width).split("\n")) expect(line.length).toBeLessThanOrEqual(width)
    }
  })

  it("sparkline and bar", () => {
    expect(sparkline([])).toBe("")
    expect(sparkline([0, 0])).toBe("▁▁")
    expect(sparkline([1, 7])).toBe("▂█")
    expect(bar(0, 10, 4)).toBe("[░░░░]")
    expect(bar(1, 1000, 4)).toBe("[█░░░]")
    expect(bar(20, 10, 4)).toBe("[████]")
  })

  it("a frame goes home, clears each line's end and what is below, and fits the rows", () => {
    expect(frame("a\nb\nc", 3)).toBe("\x1b[Ha\x1b[K\nb\x1b[K\x1b[J")
  })
})

describe("Dashboard.redraw", () => {
  it.scoped("redraws every 500 ms from the snapshot, with the rate history, and restores the terminal when stopped", () =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const current = yield* Effect.console
      const console: Console.Console = {
        ...current,
        log: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(a.join(" ")))
      }
      let processed = 0
      const snap = Effect.sync(() => {
        processed += 100
        const s = snapshot()
        return { ...s, bus: { ...s.bus, data: { ...s.bus.data, processed } } }
      })
      const recent = { signals: [], errors: [] }
      const fiber = yield* Effect.fork(
        redraw(snap, recent, { every: "500 millis", size: () => ({ columns: 100, rows: 30 }) }).pipe(Effect.withConsole(console))
      )
      yield* TestClock.adjust("1500 millis")
      expect(out[0]).toContain("\x1b[?1049h")
      const frames = out.filter((o) => o.startsWith("\x1b[H"))
      expect(frames).toHaveLength(4)
      // 100 more events every 500 ms: 200 events/s
      expect(frames[3]).toContain("events/s     200.0 ███")
      yield* Fiber.interrupt(fiber)
      expect(out[out.length - 1]).toBe("\x1b[?25h\x1b[?1049l")
    }))
})
