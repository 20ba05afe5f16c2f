/**
 * trading-bus from plain JavaScript, without Effect: the bus with async handlers, then the engine with a
 * strategy that is a plain object. Run it with `node examples/promise.mjs` once the package is built
 * (`npm run build`), or from an application that installed `trading-bus`.
 */
import { pathToFileURL } from "node:url"
import { BusClosedError, createTradingBus, runEngine } from "trading-bus/promise"

const candle = (close, minute) => ({
  symbol: "BTCUSDT", interval: "1m", openTime: minute * 60_000, closeTime: minute * 60_000 + 59_999,
  open: close, high: close, low: close, close, volume: 1, quoteVolume: close, trades: 1, isClosed: true
})

/** The bus: subscribe async handlers, publish, read the counters, close (which drains). */
export const useTheBus = async () => {
  const bus = createTradingBus({ logLevel: "none" })
  const closes = []
  const orders = []
  await bus.subscribe("CandleClosed", async (event) => {
    closes.push(event.payload.close)
  })
  await bus.subscribe("OrderCreated", async (event) => {
    // money arrives as exact decimal strings
    orders.push(`${event.payload.side} ${event.payload.quantity} ${event.payload.symbol} @ ${event.payload.price}`)
  })
  await bus.publishAll([42000, 42100, 42050].map((close, i) => ({ type: "CandleClosed", payload: candle(close, i) })))
  await bus.publish({
    type: "OrderCreated",
    payload: {
      clientOrderId: "example-1", symbol: "BTCUSDT", side: "BUY", type: "MARKET",
      quantity: "0.00100000", price: "42050.10", status: "NEW", createdAt: 180_000, updatedAt: 180_000
    }
  })
  await bus.close() // drains: every handler has run once this resolves
  const stats = await bus.stats()
  let afterClose = "accepted"
  try {
    await bus.publish({ type: "CandleClosed", payload: candle(1, 9) })
  } catch (error) {
    if (error instanceof BusClosedError) afterClose = error._tag
  }
  return { closes, orders, processed: stats.data.processed + stats.order.processed, afterClose }
}

/** The engine on the embedded simulator with a plain-object strategy: buy on two rising closes, sell on a fall. */
export const runTheEngine = async (duration = "3 seconds") => {
  const previous = new Map()
  const summary = await runEngine({
    source: { _tag: "Simulator", symbols: ["btcusdt"], seed: 7, speed: 50 },
    journal: false,
    metrics: false,
    duration,
    strategy: {
      name: "momentum",
      analyze: (c, { position }) => {
        const last = previous.get(c.symbol)
        previous.set(c.symbol, c.close)
        if (last === undefined) return undefined
        if (c.close > last && position === "0") return { direction: "LONG", reason: "a higher close" }
        if (c.close < last && position !== "0") return { direction: "CLOSE", reason: "a lower close" }
        return undefined
      }
    }
  })
  return summary
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(await useTheBus())
  const summary = await runTheEngine()
  console.log(`candles ${JSON.stringify(summary.candles)}, signals ${summary.signals}, fills ${summary.fills}, P&L ${summary.pnl.realized}`)
}
