import { Duration } from "effect"
import { formatAmount } from "../../domain/Decimal.js"
import type { BacktestReport } from "../../layers/engine/Backtest.js"

/** How a backtest's numbers read in text and HTML (the JSON report keeps them whole). */

/** An amount of the quote asset: rounded to 8 decimals, with the asset's name. */
export const quote = (r: BacktestReport, amount: string | null): string =>
  amount === null ? "n/a" : `${formatAmount(amount, 8)} ${r.quoteAsset}`

/** A percentage already in % (2 decimals). */
export const percent = (x: number | null, decimals = 2): string =>
  x === null || !Number.isFinite(x) ? "n/a" : `${x.toFixed(decimals)}%`

/** A share 0..1 as a percentage. */
export const share = (x: number | null): string => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`)

/** A ratio (Sharpe, profit factor): 2 decimals, n/a when undefined. */
export const ratio = (x: number | null): string => (x === null || !Number.isFinite(x) ? "n/a" : x.toFixed(2))

/** A length of time, to the second. */
export const duration = (ms: number | null): string =>
  ms === null ? "n/a" : Duration.format(Duration.millis(Math.round(ms / 1000) * 1000)) || "0"

export const fillModelText = (r: BacktestReport): string =>
  r.fill === "close" ? "orders fill at the close they were decided on" : "orders fill at the next candle's open"
