import { BigDecimal, Context, Effect, Exit, Layer, Logger, Scope } from "effect"
import type { Candle } from "../../src/domain/Candle.js"
import type { EventBusConfig } from "../../src/domain/EventBusConfig.js"
import type { Order } from "../../src/domain/Order.js"
import * as MemoryEventBus from "../../src/layers/MemoryEventBus.js"
import { EventBus } from "../../src/services/EventBus.js"

export const candle = (close: number, openTime = 0, symbol = "BTCUSDT"): Candle => ({
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
  isClosed: true
})

export const order = (clientOrderId: string): Order => ({
  clientOrderId,
  symbol: "BTCUSDT",
  side: "BUY",
  type: "MARKET",
  quantity: BigDecimal.unsafeFromString("0.01"),
  price: BigDecimal.unsafeFromString("42000.10"),
  status: "NEW",
  createdAt: 0,
  updatedAt: 0
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
