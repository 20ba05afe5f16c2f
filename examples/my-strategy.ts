/**
 * A strategy of your own: RSI mean reversion on closed candles. It is backtested on the bundled sample
 * (ADABTC, one day of 1m candles), then paper-traded for a few seconds against the embedded simulator.
 * Run it with `npx tsx examples/my-strategy.ts`; `examples/strategy.test.ts` shows how to test it.
 */
import { NodeRuntime } from "@effect/platform-node"
import { fileURLToPath } from "node:url"
import { BigDecimal, Console, type Duration, Effect, Layer } from "effect"
import { RSI } from "trading-signals"
import { Backtest, type Candle, Engine, formatDecimal, type Signal, Strategy, StrategyError } from "trading-bus"

export interface RsiReversionOptions {
  /** RSI period, in candles. Default 14. */
  readonly period?: number
  /** Buy when flat and the RSI falls below this. Default 30. */
  readonly oversold?: number
  /** Sell everything when long and the RSI rises above this. Default 70. */
  readonly overbought?: number
}

export const name = "rsi-reversion"

/**
 * The decision alone, a plain function: easy to read and to test. `position` is the strategy's position in
 * the symbol (the engine's Portfolio, given to `analyze` as its context).
 */
export const decide = (
  rsi: number,
  position: BigDecimal.BigDecimal,
  o: Required<RsiReversionOptions>
): Signal["direction"] | undefined => {
  if (BigDecimal.isZero(position) && rsi < o.oversold) return "LONG"
  if (BigDecimal.isPositive(position) && rsi > o.overbought) return "CLOSE"
  return undefined
}

/** The strategy as a service: one RSI per symbol, created on its first candle. */
export const make = (options: RsiReversionOptions = {}): Strategy["Type"] => {
  const o = { period: 14, oversold: 30, overbought: 70, ...options }
  const indicators = new Map<string, RSI>()
  return Strategy.of({
    name,
    analyze: (candle: Candle, context) =>
      Effect.suspend(() => {
        if (!candle.isClosed) return Effect.succeedNone
        if (!Number.isFinite(candle.close)) {
          return Effect.fail(new StrategyError({ strategy: name, symbol: candle.symbol, message: `no close in ${candle.closeTime}` }))
        }
        let rsi = indicators.get(candle.symbol)
        if (rsi === undefined) indicators.set(candle.symbol, rsi = new RSI(o.period))
        const value = rsi.add(candle.close)
        if (value === null) return Effect.succeedNone // not enough candles yet
        const direction = decide(value, context.position, o)
        if (direction === undefined) return Effect.succeedNone
        return Effect.succeedSome<Signal>({
          symbol: candle.symbol,
          direction,
          price: candle.close,
          strategy: name,
          reason: `RSI(${o.period}) ${value.toFixed(2)} ${direction === "LONG" ? `< ${o.oversold}` : `> ${o.overbought}`}`,
          timestamp: candle.closeTime
        })
      })
  })
}

/** What the engine takes: a Layer providing the Strategy. A fresh one per run (the RSIs are the layer's state). */
export const layer = (options: RsiReversionOptions = {}): Layer.Layer<Strategy> => Layer.sync(Strategy, () => make(options))

/**
 * For the command line: `trading-bus run --strategy examples/my-strategy.ts --param period=7` (and `backtest`)
 * calls the default export with the `--param` pairs.
 */
export default (params: Record<string, string>): Layer.Layer<Strategy> =>
  layer({
    ...(params["period"] !== undefined ? { period: Number(params["period"]) } : {}),
    ...(params["oversold"] !== undefined ? { oversold: Number(params["oversold"]) } : {}),
    ...(params["overbought"] !== undefined ? { overbought: Number(params["overbought"]) } : {})
  })

export const sampleCandles = fileURLToPath(new URL("./data/ADABTC-1m-2021-11-27.csv", import.meta.url))

// ADABTC trades around 0.00003 BTC: orders of 0.01 BTC, at most 0.05 BTC held
const sizing = { quoteAmount: "0.01", maxPositionNotional: "0.05" }

/** The backtest: the sample through the same engine as live trading, one candle at a time. */
export const backtest = Backtest.run({ candles: sampleCandles, strategy: layer(), ...sizing })

/** Paper trading against the embedded simulator (no network, no journal, no metrics server) for `duration`. */
export const paperTrade = (duration: Duration.DurationInput = "3 seconds") =>
  Engine.run({
    source: { _tag: "Simulator", symbols: ["btcusdt"], interval: "1s", seed: 7, speed: 50 },
    strategy: layer(),
    duration,
    journal: false,
    metrics: false,
    quoteAmount: "100",
    maxPositionNotional: "1000"
  })

/** Money for people: 8 decimals (the report keeps the exact strings). */
const show = (exact: string) => formatDecimal(BigDecimal.round(BigDecimal.unsafeFromString(exact), { scale: 8 }))

export const main = Effect.gen(function*() {
  const report = yield* backtest
  yield* Console.log(
    `backtest ${report.symbol} ${report.interval}: ${report.candles} candles, ${report.signals} signals, ${report.fills} fills, ` +
      `${report.roundTrips} round trips (${report.wins} won), P&L ${show(report.totalPnl)} BTC, max drawdown ${report.maxDrawdown.toFixed(8)}`
  )
  const summary = yield* paperTrade()
  yield* Console.log(
    `paper: ${Object.values(summary.candles).reduce((a, b) => a + b, 0)} candles, ${summary.signals} signals, ` +
      `${summary.fills} fills, P&L ${show(summary.pnl.realized)} realized, ${show(summary.pnl.unrealized)} unrealized`
  )
  return { report, summary }
})

if (import.meta.url === `file://${process.argv[1]}`) NodeRuntime.runMain(main.pipe(Effect.map(() => undefined)))
