import { BigDecimal, Context, Effect, Exit, Layer, Logger, Scope } from "effect"
import type { Candle } from "../../src/domain/Candle.js"
import type { EventBusConfig } from "../../src/domain/EventBusConfig.js"
import type { Order } from "../../src/domain/Order.js"
import type { SignalDirection } from "../../src/domain/Signal.js"
import * as MemoryEventBus from "../../src/layers/bus/MemoryEventBus.js"
import { EventBus } from "../../src/services/EventBus.js"

export const candle = (close: number, openTime = 0, symbol = "BTCUSDT", isClosed = true): Candle => ({
  symbol,
  interval: "1m",
  openTime,
  closeTime: openTime + 59_999,
  open: close,
  high: close,
  low: close,
  close,
  volume: 1,
  quoteVolume: close,
  trades: 1,
  isClosed
})

/** The i-th one-minute candle of a series, flat at `close`. */
export const candleAt = (i: number, close: number, symbol = "BTCUSDT", isClosed = true): Candle =>
  candle(close, i * 60_000, symbol, isClosed)

/**
 * The SMA crossover's signals computed independently from the raw closes:
 * plain arithmetic SMAs and the documented rules (LONG/SHORT on a cross,
 * CLOSE when the two meet again; the first reading only sets the side).
 */
export const expectedSmaSignals = (closes: ReadonlyArray<number>, fast: number, slow: number) => {
  const sma = (i: number, n: number) => closes.slice(i - n + 1, i + 1).reduce((a, b) => a + b, 0) / n
  const out: Array<{ index: number; direction: SignalDirection }> = []
  let previous: number | undefined
  for (let i = slow - 1; i < closes.length; i++) {
    const side = Math.sign(sma(i, fast) - sma(i, slow))
    if (previous !== undefined && side !== previous) {
      out.push({ index: i, direction: side > 0 ? "LONG" : side < 0 ? "SHORT" : "CLOSE" })
    }
    previous = side
  }
  return out
}

export const order = (clientOrderId: string, overrides: Partial<Order> = {}): Order => ({
  clientOrderId,
  symbol: "BTCUSDT",
  side: "BUY",
  type: "MARKET",
  quantity: BigDecimal.unsafeFromString("0.01"),
  price: BigDecimal.unsafeFromString("42000.10"),
  status: "NEW",
  createdAt: 0,
  updatedAt: 0,
  ...overrides
})

/** A bus built in a scope the test closes itself, to observe shutdown. */
export const openBus = (config?: Partial<EventBusConfig>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(MemoryEventBus.layer(config), scope)
    return { bus: Context.get(context, EventBus), close: Scope.close(scope, Exit.void) }
  })

export interface LogEntry {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger that keeps every entry, to check what the bus says and with which context. */
export const captureLogs = () => {
  const entries: Array<LogEntry> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    entries.push({
      level: logLevel.label,
      message: parts.map(String).join(" "),
      annotations: Object.fromEntries(annotations)
    })
  })
  return { entries, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** Lets forked fibers run until nothing is left to do without moving the TestClock. */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow()
})
