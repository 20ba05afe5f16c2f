/**
 * The statistics a backtest reports, as pure functions of its equity curve and its round trips. Each is
 * defined once, in docs/BACKTESTS.md; the tests check them against an independent computation.
 * Ratios are plain numbers (they are not money); P&L stays an exact `BigDecimal`.
 */
import { BigDecimal } from "effect"
import { formatDecimal } from "../../domain/Decimal.js"

const MINUTES_PER_YEAR = 365 * 24 * 60

/** Candles per year for an interval: crypto trades every day, so 365 x 24 x 60 / (interval in minutes). */
export const periodsPerYear = (intervalMs: number): number => (MINUTES_PER_YEAR * 60_000) / intervalMs

export interface EquityStatistics {
  /** (final equity / capital - 1) x 100. */
  readonly totalReturnPct: number
  /** The largest fall from the running peak of equity, in the quote asset. */
  readonly maxDrawdown: number
  /** The largest (peak - equity) / peak x 100, the peak being the running maximum of equity, capital included. */
  readonly maxDrawdownPct: number
  /** Candles from that drawdown's peak to its recovery (equity back at the peak), or to the last candle. */
  readonly maxDrawdownDuration: number
  /** Whether equity got back to that peak before the end. */
  readonly maxDrawdownRecovered: boolean
  /** mean(r) / sample sd(r) x sqrt(periods per year), r the per-candle returns; null when sd is 0 or n < 2. */
  readonly sharpe: number | null
  /** mean(r) / sqrt(mean(min(r, 0)^2)) x sqrt(periods per year); null without a losing candle. */
  readonly sortino: number | null
  /** ((final / capital) ^ (1 / years) - 1) x 100, years = candles / periods per year. */
  readonly cagrPct: number | null
  /** cagrPct / maxDrawdownPct; null without a drawdown. */
  readonly calmar: number | null
}

/**
 * `equity`: capital + realized + unrealized P&L after each candle, or the P&L alone with the capital as `offset`
 * (each value is then offset + value: no second curve). Before the first candle, equity is the capital: the
 * first return is equity_0 / capital - 1, and the peak starts at the capital (index -1).
 */
export const equityStatistics = (
  capital: number,
  values: ArrayLike<number>,
  perYear: number,
  offset = 0
): EquityStatistics => {
  const equity = { length: values.length, at: (i: number) => offset + values[i]! }
  const final = equity.length === 0 ? capital : equity.at(equity.length - 1)
  let peak = capital
  let peakIndex = -1
  let maxDrawdown = 0
  let maxDrawdownPct = 0
  let worstPeakIndex = -1
  let worstPeak = capital
  let troughIndex = -1
  for (let i = 0; i < equity.length; i++) {
    const e = equity.at(i)
    if (e > peak) {
      peak = e
      peakIndex = i
    }
    const pct = peak > 0 ? ((peak - e) / peak) * 100 : 0
    if (peak - e > maxDrawdown) maxDrawdown = peak - e
    if (pct > maxDrawdownPct) {
      maxDrawdownPct = pct
      worstPeakIndex = peakIndex
      worstPeak = peak
      troughIndex = i
    }
  }
  // the worst drawdown lasts from its peak, through its trough, until equity is back at that peak (or the last candle)
  let maxDrawdownDuration = 0
  let maxDrawdownRecovered = false
  if (troughIndex >= 0) {
    let end = equity.length - 1
    for (let i = troughIndex + 1; i < equity.length; i++) {
      if (equity.at(i) >= worstPeak) {
        end = i
        maxDrawdownRecovered = true
        break
      }
    }
    maxDrawdownDuration = end - worstPeakIndex
  }
  // the per-candle returns, worked out again on each pass rather than kept: a million candles would hold 8 MB more
  const n = equity.length
  const returnAt = (i: number) => {
    const previous = i === 0 ? capital : equity.at(i - 1)
    return previous === 0 ? 0 : equity.at(i) / previous - 1
  }
  let sum = 0
  for (let i = 0; i < n; i++) sum += returnAt(i)
  const mean = n === 0 ? 0 : sum / n
  let squares = 0
  let downs = 0
  for (let i = 0; i < n; i++) {
    const r = returnAt(i)
    squares += (r - mean) ** 2
    downs += Math.min(r, 0) ** 2
  }
  const variance = n < 2 ? 0 : squares / (n - 1)
  const downside = n === 0 ? 0 : downs / n
  const annual = Math.sqrt(perYear)
  const years = n / perYear
  const growth = final / capital
  const cagrPct = years > 0 ? (growth > 0 ? (Math.pow(growth, 1 / years) - 1) * 100 : -100) : null
  return {
    totalReturnPct: (final / capital - 1) * 100,
    maxDrawdown,
    maxDrawdownPct,
    maxDrawdownDuration,
    maxDrawdownRecovered,
    sharpe: variance > 0 ? (mean / Math.sqrt(variance)) * annual : null,
    sortino: downside > 0 ? (mean / Math.sqrt(downside)) * annual : null,
    cagrPct: cagrPct !== null && Number.isFinite(cagrPct) ? cagrPct : null,
    calmar: cagrPct !== null && Number.isFinite(cagrPct) && maxDrawdownPct > 0 ? cagrPct / maxDrawdownPct : null
  }
}

/** (last close / first close - 1) x 100. */
export const buyAndHoldPct = (closes: ReadonlyArray<number>): number =>
  closes.length === 0 ? 0 : (closes[closes.length - 1]! / closes[0]! - 1) * 100

/** The share of candles after which a position is held, in %, from the count of each. */
export const heldShare = (held: number, candles: number): number => (candles === 0 ? 0 : (held / candles) * 100)

/** A closed round trip: from a flat (or flipped) position back to flat (or flipped). */
export interface RoundTrip {
  readonly symbol: string
  readonly side: "long" | "short"
  /** Time of the opening and of the closing fill (epoch ms). */
  readonly openedAt: number
  readonly closedAt: number
  /** The largest |position| held during the trip. */
  readonly quantity: BigDecimal.BigDecimal
  /** Average entry price of the position the closing fill closed, and that fill's price. */
  readonly entryPrice: BigDecimal.BigDecimal
  readonly exitPrice: BigDecimal.BigDecimal
  /** The change of the symbol's realized P&L over the trip, every fee included. */
  readonly pnl: BigDecimal.BigDecimal
}

export interface TradeStatistics {
  readonly roundTrips: number
  readonly wins: number
  /** wins / roundTrips, 0 to 1; null when no trip closed. */
  readonly winRate: number | null
  /** Sum of the winning trips' P&L, and of the losing trips' (as a positive amount). */
  readonly grossProfit: string
  readonly grossLoss: string
  /** grossProfit / grossLoss; null when no trip lost. */
  readonly profitFactor: number | null
  /** Mean P&L of the winning trips and of the losing ones (negative); null when there is none. */
  readonly averageWin: string | null
  readonly averageLoss: string | null
  /** winRate x averageWin + (1 - winRate) x averageLoss: the P&L to expect from one trip. */
  readonly expectancy: string | null
  readonly bestTrade: string | null
  readonly worstTrade: string | null
  /** Mean P&L per trip (equal to the expectancy, computed directly). */
  readonly averageTrade: string | null
  /** Mean time from the opening fill to the closing fill. */
  readonly averageTradeDurationMs: number | null
}

/** Decimals kept by a division of money (an average): far below any asset's precision. */
const DIVISION_SCALE = 18

const zero = BigDecimal.fromBigInt(0n)
const show = formatDecimal
const mean = (sum: BigDecimal.BigDecimal, n: number) =>
  BigDecimal.normalize(BigDecimal.round(BigDecimal.unsafeDivide(sum, BigDecimal.fromBigInt(BigInt(n))), { scale: DIVISION_SCALE, mode: "half-even" }))

export const tradeStatistics = (trips: ReadonlyArray<RoundTrip>): TradeStatistics => {
  let grossProfit = zero
  let grossLoss = zero
  let total = zero
  let wins = 0
  let losses = 0
  let best: BigDecimal.BigDecimal | undefined
  let worst: BigDecimal.BigDecimal | undefined
  let duration = 0
  for (const t of trips) {
    total = BigDecimal.sum(total, t.pnl)
    if (BigDecimal.isPositive(t.pnl)) {
      wins++
      grossProfit = BigDecimal.sum(grossProfit, t.pnl)
    } else if (BigDecimal.isNegative(t.pnl)) {
      losses++
      grossLoss = BigDecimal.subtract(grossLoss, t.pnl)
    }
    if (best === undefined || BigDecimal.greaterThan(t.pnl, best)) best = t.pnl
    if (worst === undefined || BigDecimal.lessThan(t.pnl, worst)) worst = t.pnl
    duration += t.closedAt - t.openedAt
  }
  const n = trips.length
  const winRate = n === 0 ? null : wins / n
  const averageWin = wins === 0 ? undefined : mean(grossProfit, wins)
  const averageLoss = losses === 0 ? undefined : BigDecimal.negate(mean(grossLoss, losses))
  // winRate x averageWin + lossRate x averageLoss, in exact fractions of n (trips at exactly 0 add nothing)
  const expectancy = n === 0 ? undefined : mean(BigDecimal.subtract(grossProfit, grossLoss), n)
  return {
    roundTrips: n,
    wins,
    winRate,
    grossProfit: show(BigDecimal.normalize(grossProfit)),
    grossLoss: show(BigDecimal.normalize(grossLoss)),
    profitFactor: BigDecimal.isZero(grossLoss) ? null : BigDecimal.unsafeToNumber(grossProfit) / BigDecimal.unsafeToNumber(grossLoss),
    averageWin: averageWin === undefined ? null : show(averageWin),
    averageLoss: averageLoss === undefined ? null : show(averageLoss),
    expectancy: expectancy === undefined ? null : show(expectancy),
    bestTrade: best === undefined ? null : show(BigDecimal.normalize(best)),
    worstTrade: worst === undefined ? null : show(BigDecimal.normalize(worst)),
    averageTrade: n === 0 ? null : show(mean(total, n)),
    averageTradeDurationMs: n === 0 ? null : duration / n
  }
}
