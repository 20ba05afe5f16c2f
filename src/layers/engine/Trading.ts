import { type Duration, Layer } from "effect"
import * as CircuitBreakerBroker from "../execution/CircuitBreakerBroker.js"
import * as JournaledBroker from "../execution/JournaledBroker.js"
import * as PaperBroker from "../execution/PaperBroker.js"
import * as JournaledPortfolio from "../journal/JournaledPortfolio.js"
import * as MemoryPortfolio from "../trading/MemoryPortfolio.js"
import * as RiskOrderManager from "../trading/RiskOrderManager.js"
import * as TradingEngine from "../trading/TradingEngine.js"
import type { Strategy } from "../../services/Strategy.js"
import { Broker } from "../../services/Broker.js"

/** Order sizing, risk limits and the paper broker; every field has `trading-bus run`'s default. */
export interface TradingOptions {
  /** Notional of one order, in the quote asset. Default "100". */
  readonly quoteAmount?: string | number
  /** Largest position notional per symbol. Default "1000". */
  readonly maxPositionNotional?: string | number
  /** Most orders in flight at once. Default 5. */
  readonly maxOpenOrders?: number
  /** Let a SELL open a short (paper only). Default false: on spot the engine is long-only. */
  readonly allowShort?: boolean
  /** Paper broker fee, bps. Default 10. */
  readonly feeBps?: number
  /** Paper broker slippage, bps. Default 5. */
  readonly slippageBps?: number
  /** Paper broker: simulated execution time per order. Default 0. */
  readonly brokerLatency?: Duration.DurationInput
}

/** The paper broker with the options' fee, slippage and latency. */
export const paperBroker = (options: TradingOptions) =>
  PaperBroker.layer({
    feeBps: options.feeBps ?? 10,
    slippageBps: options.slippageBps ?? 5,
    latency: options.brokerLatency ?? 0
  })

/**
 * Execution: the broker (paper unless told) behind a circuit breaker, behind the journal's idempotency check
 * (a journaled outcome returns before the breaker is asked); what else the broker provides (an exchange's
 * account) comes along.
 */
const brokerLayer = <B extends Broker, E, R>(inner: Layer.Layer<B, E, R>) =>
  JournaledBroker.layer.pipe(
    Layer.provideMerge(CircuitBreakerBroker.layer()),
    Layer.provideMerge(inner)
  )

const sameBroker: Layer.Layer<Broker, never, Broker> = Layer.effect(Broker, Broker)

/** The trading pipeline on the bus: the strategy, risk checks, paper broker, portfolio. */
export const tradingLayer = <E = never, B extends Broker = Broker, E2 = PaperBroker.BrokerConfigError, R2 = never>(
  options: TradingOptions,
  strategy: Layer.Layer<Strategy>,
  // what the engine submits to: the broker itself, or a wrapper of it (a backtest's fill model, once-only execution)
  execution: Layer.Layer<Broker, E, Broker> = sameBroker as Layer.Layer<Broker, E, Broker>,
  // who executes: the paper broker unless told (an exchange's broker)
  broker: Layer.Layer<B, E2, R2> = paperBroker(options) as unknown as Layer.Layer<B, E2, R2>, // the default's types are the parameters' defaults
  engine: TradingEngine.TradingEngineOptions = {}
) =>
  TradingEngine.layerWith(engine).pipe(
    Layer.provide(
      Layer.mergeAll(
        strategy,
        RiskOrderManager.layer({
          quoteAmount: options.quoteAmount ?? "100",
          maxPositionNotional: options.maxPositionNotional ?? "1000",
          maxOpenOrders: options.maxOpenOrders ?? 5,
          allowShort: options.allowShort ?? false
        })
      )
    ),
    Layer.provide(execution),
    Layer.provideMerge(brokerLayer(broker)),
    // positions rebuilt from the journal's fills (when there is one) before the order manager reads them
    Layer.provideMerge(JournaledPortfolio.layer.pipe(Layer.provide(MemoryPortfolio.layer)))
  )
