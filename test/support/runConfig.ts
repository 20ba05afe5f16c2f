import { Duration, Option } from "effect"
import type { RunConfig } from "../../src/programs/RunOptions.js"

/** `trading-bus run`'s defaults, fast: the simulator at 200 candles/s and a short SMA pair, so orders flow at once. */
export const testRunConfig = (overrides: Partial<RunConfig> = {}): RunConfig => ({
  source: "sim",
  symbols: ["btcusdt", "ethusdt"],
  interval: "1m",
  strategy: "sma",
  fast: 2,
  slow: 5,
  duration: Option.some(Duration.seconds(2)),
  seed: 7,
  speed: 200,
  wsUrl: "wss://stream.binance.com:9443",
  restUrl: "https://api.binance.com",
  candleUpdates: false,
  quoteAmount: "100",
  maxPositionNotional: "1000",
  maxOpenOrders: 5,
  feeBps: 10,
  slippageBps: 5,
  statusInterval: Duration.hours(1),
  brokerLatency: Duration.zero,
  summaryJson: Option.none(),
  metricsPort: 0,
  metricsHost: "127.0.0.1",
  ...overrides
})
