import * as FileSystem from "@effect/platform/FileSystem"
import { BigDecimal, Clock, Console, Effect } from "effect"
import { formatDecimal } from "../domain/Decimal.js"
import * as Backtest from "../layers/engine/Backtest.js"
import * as Sweep from "../layers/engine/Sweep.js"
import type { BacktestDetails, BacktestReport } from "../layers/engine/Backtest.js"
import { checkWritable } from "../layers/engine/internal/StartupChecks.js"
import { asConfigurationError, ConfigurationError } from "./ConfigurationError.js"
import { duration, fillModelText, percent, quote, ratio, share } from "./report/BacktestFormat.js"
import { sweepPage } from "./report/BacktestPage.js"
import { backtestPage } from "./report/ReportPages.js"

/** Where a backtest's (or a replay's) report goes besides stdout. */
export interface ReportFiles {
  readonly reportJson?: string
  readonly reportHtml?: string
  readonly tradesCsv?: string
  readonly equityCsv?: string
}

/** The report files, checked writable before the backtest runs (exit 2 rather than a lost report at the end). */
export const checkReportFiles = (files: ReportFiles) =>
  Effect.gen(function*() {
    const checks = [
      ["reportJson", files.reportJson],
      ["report", files.reportHtml],
      ["tradesCsv", files.tradesCsv],
      ["equityCsv", files.equityCsv]
    ] as const
    for (const [option, path] of checks) {
      if (path !== undefined) {
        yield* checkWritable(option, path).pipe(
          Effect.mapError((e) => asConfigurationError(e) ?? new ConfigurationError({ flag: `--${option}`, value: path, reason: e.reason }))
        )
      }
    }
  })

const iso = (t: number) => new Date(t).toISOString()

/** One row per fill, exact decimals. */
export const tradesCsv = (details: BacktestDetails): string =>
  [
    "time,symbol,side,quantity,price,fee,clientOrderId",
    ...details.fills.map((f) =>
      [iso(f.filledAt), f.symbol, f.side, formatDecimal(f.quantity), formatDecimal(f.price), formatDecimal(f.fee), f.clientOrderId].join(",")
    )
  ].join("\n") + "\n"

/** One row per candle: its close, the position after it, and the equity (capital + P&L) marked at its close. */
export const equityCsv = (details: BacktestDetails): string => {
  const capital = BigDecimal.unsafeToNumber(BigDecimal.unsafeFromString(details.report.capital))
  const c = details.curves
  return [
    "closeTime,close,position,equity",
    ...c.time.map((t, i) => `${iso(t)},${c.close[i]},${c.position[i]},${capital + c.equity[i]!}`)
  ].join("\n") + "\n"
}

/**
 * `trading-bus backtest` and `replay`: the library's backtest, its report printed and written to the files
 * asked for (checked first).
 */
export const backtestProgram = (options: Backtest.BacktestOptions & ReportFiles) =>
  Effect.gen(function*() {
    yield* checkReportFiles(options)
    const fs = yield* FileSystem.FileSystem
    const details = yield* Backtest.runDetailed(options)
    const { report } = details
    yield* Console.log(formatReport(report))
    if (options.reportJson !== undefined) {
      yield* fs.writeFileString(options.reportJson, `${JSON.stringify(report, null, 2)}\n`)
    }
    if (options.reportHtml !== undefined) {
      yield* fs.writeFileString(options.reportHtml, backtestPage(details, yield* Clock.currentTimeMillis))
    }
    if (options.tradesCsv !== undefined) yield* fs.writeFileString(options.tradesCsv, tradesCsv(details))
    if (options.equityCsv !== undefined) yield* fs.writeFileString(options.equityCsv, equityCsv(details))
    return report
  })

/** The report as the `backtest` command prints it: amounts rounded to 8 decimals, in the quote asset. */
export const formatReport = (r: BacktestReport): string =>
  [
    `backtest ${r.symbol} ${r.interval}: ${r.candles} candles ${iso(r.from)} .. ${iso(r.to + 1)} (${r.malformed} malformed rows skipped, ${r.dropped} dropped)`,
    `  capital ${quote(r, r.capital)}; ${fillModelText(r)}`,
    `  signals ${r.signals}, orders ${r.orders}, trades (fills) ${r.fills}, rejected ${r.rejected}${
      r.unfilledOrders > 0 ? ` (${r.unfilledOrders} unfilled: decided on the last candle)` : ""
    }, errors ${r.errors}`,
    `  round trips ${r.roundTrips}, wins ${r.wins}, win rate ${share(r.winRate)}, profit factor ${ratio(r.profitFactor)}, expectancy ${
      quote(r, r.expectancy)
    }`,
    `  trades: best ${quote(r, r.bestTrade)}, worst ${quote(r, r.worstTrade)}, average ${quote(r, r.averageTrade)}, average duration ${
      duration(r.averageTradeDurationMs)
    }`,
    `  P&L realized ${quote(r, r.realizedPnl)}, unrealized ${quote(r, r.unrealizedPnl)}, total ${quote(r, r.totalPnl)}; fees paid ${
      quote(r, r.feesPaid)
    }`,
    `  equity ${quote(r, r.finalEquity)}: return ${percent(r.totalReturnPct)} (buy and hold ${percent(r.buyAndHoldPct)}), CAGR ${
      percent(r.cagrPct)
    }`,
    `  max drawdown ${quote(r, String(r.maxDrawdown))} (${percent(r.maxDrawdownPct)} of the peak) over ${r.maxDrawdownDuration} candles${
      r.maxDrawdownRecovered ? " to recover" : ", not recovered by the end"
    }`,
    `  sharpe ${ratio(r.sharpe)}, sortino ${ratio(r.sortino)}, calmar ${ratio(r.calmar)}, exposure ${percent(r.exposurePct, 1)}`,
    `  ${r.candlesPerSecond} candles/s (${r.elapsedMs} ms)`
  ].join("\n")

/** `backtest` with a grid: every combination on worker threads, the ranked table printed, the files written. */
export const sweepProgram = (options: Sweep.SweepOptions & Pick<ReportFiles, "reportJson" | "reportHtml">) =>
  Effect.gen(function*() {
    yield* checkReportFiles(options)
    const fs = yield* FileSystem.FileSystem
    const sweep = yield* Sweep.run(options)
    yield* Console.log(formatSweep(sweep))
    if (options.reportJson !== undefined) yield* fs.writeFileString(options.reportJson, `${JSON.stringify(sweep, null, 2)}\n`)
    if (options.reportHtml !== undefined) yield* fs.writeFileString(options.reportHtml, sweepPage(sweep, yield* Clock.currentTimeMillis))
    return sweep
  })

const pad = (rows: ReadonlyArray<ReadonlyArray<string>>, numeric: ReadonlyArray<boolean>) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => numeric[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)).join("  ").trimEnd())
}

/** The columns of the ranked table besides the parameters: the rank field first. */
const sweepColumns = (rankBy: Sweep.RankField) =>
  [rankBy, ...(["sharpe", "totalReturnPct", "maxDrawdownPct", "roundTrips", "winRate"] as const).filter((c) => c !== rankBy)]

/** A report field as the table shows it: ratios to 2 decimals, percentages with %, a null as "-". */
export const sweepCell = (r: BacktestReport, field: Sweep.RankField): string => {
  const v = r[field]
  if (typeof v !== "number" || !Number.isFinite(v)) return "-"
  if (field === "winRate") return share(v)
  if (field.endsWith("Pct")) return percent(v)
  return field === "roundTrips" ? String(v) : ratio(v)
}

/** The sweep as `backtest` prints it: one row per combination, best first, and the skipped ones. */
export const formatSweep = (s: Sweep.SweepReport): string => {
  const keys = Object.keys(s.grid)
  const fixed = s.results[0] === undefined ? [] : Object.keys(s.results[0].params).filter((k) => !keys.includes(k))
  const columns = sweepColumns(s.rankBy)
  const rows = [
    ["#", ...keys, ...columns],
    ...s.results.map((r) => [String(r.rank), ...keys.map((k) => String(r.params[k])), ...columns.map((c) => sweepCell(r.report, c))])
  ]
  const first = s.results[0]?.report
  return [
    `sweep ${first?.symbol ?? ""} ${first?.interval ?? ""}: ${s.combinations} combinations of ${keys.join(", ")}${
      fixed.length > 0 && s.results[0] !== undefined ? ` (${fixed.map((k) => `${k}=${s.results[0]!.params[k]}`).join(", ")})` : ""
    } on ${s.workers} worker threads in ${s.elapsedMs} ms, ranked by ${s.rankBy} (${s.lowerIsBetter ? "lowest" : "highest"} first)`,
    ...pad(rows, rows[0]!.map((_, i) => i !== 0 && i <= keys.length ? false : true)).map((line) => `  ${line}`),
    ...(s.skipped.length > 0
      ? [`  skipped ${s.skipped.length}: ${s.skipped.map((k) => `${keys.map((key) => `${key}=${k.params[key]}`).join(" ")} (${k.reason})`).join("; ")}`]
      : [])
  ].join("\n")
}
