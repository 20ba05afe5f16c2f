// The public API, in the order events flow: what travels, the bus, market data, trading, execution, the
// journal, observability, and the engine that composes them.

// domain: what travels over the bus
export * from "./domain/BusEvent.js"
export * from "./domain/Candle.js"
export * from "./domain/Decimal.js"
export * from "./domain/ErrorReport.js"
export * from "./domain/Errors.js"
export * from "./domain/EventBusConfig.js"
export * from "./domain/Order.js"
export * from "./domain/Position.js"
export * from "./domain/Signal.js"
export * from "./domain/Binance.js"
export * from "./domain/TradingErrors.js"
export * as Metrics from "./domain/Metrics.js"

// the bus
export * from "./services/EventBus.js"
export * from "./services/EventBusHooks.js"
export * as MemoryEventBus from "./layers/bus/MemoryEventBus.js"
export * as RedisEventBus from "./layers/bus/RedisEventBus.js"

// market data
export * from "./services/MarketData.js"
export * as BinanceMarketData from "./layers/market/BinanceMarketData.js"
export * as SimulatedExchange from "./layers/market/SimulatedExchange.js"
export * as CandleFile from "./layers/market/CandleFile.js"

// trading: strategy, orders, positions
export * from "./services/Strategy.js"
export * from "./services/OrderManager.js"
export * from "./services/Portfolio.js"
export * from "./services/EngineStats.js"
export * as SmaCrossoverStrategy from "./layers/trading/SmaCrossoverStrategy.js"
export * as RiskOrderManager from "./layers/trading/RiskOrderManager.js"
export * as MemoryPortfolio from "./layers/trading/MemoryPortfolio.js"
export * as TradingEngine from "./layers/trading/TradingEngine.js"

// execution
export * from "./services/Broker.js"
export * as PaperBroker from "./layers/execution/PaperBroker.js"
export * as CircuitBreakerBroker from "./layers/execution/CircuitBreakerBroker.js"
export * as JournaledBroker from "./layers/execution/JournaledBroker.js"
export * as RedisOnceBroker from "./layers/execution/RedisOnceBroker.js"
export * from "./services/ExchangeAccount.js"
export * from "./services/OrderSteps.js"
export * as BinanceBroker from "./layers/execution/BinanceBroker.js"
export { ed25519Signer, ed25519SignerFromFile, hmacSigner, type Signer, SigningKeyError } from "./layers/execution/internal/binance/signing.js"

// the journal: write-ahead orders, recovery, dead letters
export * from "./services/Journal.js"
export * from "./services/DeadLetters.js"
export * as SqliteJournal from "./layers/journal/SqliteJournal.js"
export * as JournalHooks from "./layers/journal/JournalHooks.js"
export * as JournalRecovery from "./layers/journal/JournalRecovery.js"
export * as JournaledPortfolio from "./layers/journal/JournaledPortfolio.js"
export * as SqliteDeadLetters from "./layers/journal/SqliteDeadLetters.js"
export * as SqliteOrderSteps from "./layers/journal/SqliteOrderSteps.js"
export * as RetryingHandlers from "./layers/journal/RetryingHandlers.js"

// observability
export * as MetricsServer from "./layers/observability/MetricsServer.js"
export * as PrometheusExporter from "./layers/observability/PrometheusExporter.js"
export * as OtlpTracing from "./layers/observability/OtlpTracing.js"

// the engine: everything above as one layer, live or over history
export * as Engine from "./layers/engine/Engine.js"
export * as Backtest from "./layers/engine/Backtest.js"
export * as Sweep from "./layers/engine/Sweep.js"
