import * as FileSystem from "@effect/platform/FileSystem"
import { Data, Effect, Option } from "effect"
import { klineIntervals } from "../../domain/Binance.js"
import type { Candle } from "../../domain/Candle.js"
import { isSqliteHeader } from "./internal/sqliteHeader.js"

/**
 * Historical candles from a file, for backtests:
 * - Binance's kline CSV (data.binance.vision), 12 columns, with or without a header line:
 *   `open_time, open, high, low, close, volume, close_time, quote_volume, trades, taker_buy_base,
 *   taker_buy_quote, ignore`. Times in microseconds (Binance's spot files since 2025) are turned into ms.
 * - A JSON array of rows: `[time, o, h, l, c, v]` (ccxt OHLCV; close time = the next row's open time - 1,
 *   or open time + interval - 1 for the last; quote volume = close * volume; trades 0), or Binance's
 *   12-field REST rows (`GET /api/v3/klines`).
 * - trading-bus's own journal (a SQLite file, told by its header, whatever its name) recorded with
 *   `trading-bus run --record`: its `CandleClosed` events in append order (see `JournalCandles`).
 * A malformed row is logged with its line (CSV) or row (JSON) number, counted and skipped; with `strict`
 * the read fails with a `CandleFileError` naming it.
 */

/** Why a candle file cannot be used. `line` is the 1-based line (CSV) or row (JSON) of a malformed row. */
export class CandleFileError extends Data.TaggedError("CandleFileError")<{
  readonly path: string
  readonly reason: string
  /** The setting to fix: "candles" (the file), "symbol" or "interval". */
  readonly option: "candles" | "symbol" | "interval"
  readonly line?: number
  readonly unit?: "line" | "row"
}> {
  override get message() {
    return this.line === undefined
      ? `${this.path}: ${this.reason}`
      : `${this.path}: ${this.unit ?? "line"} ${this.line}: ${this.reason}`
  }
}

export interface CandleFileOptions {
  readonly path: string
  /** The candles' symbol; by default the file name's prefix ("ADABTC-1m-2021-11-27.csv": ADABTC). */
  readonly symbol?: string
  /** The candles' interval; by default the file name's second part when it is one ("1m"), else the rows' spacing. */
  readonly interval?: string
  /** Fail on the first malformed row instead of skipping it. */
  readonly strict?: boolean
}

export interface MalformedRow {
  readonly line: number
  readonly unit: "line" | "row"
  readonly reason: string
}

export interface CandleFileContent {
  readonly path: string
  /** "journal": a recorded event log; its malformed rows are candles out of order, `line` their seq. */
  readonly format: "csv" | "json" | "journal"
  readonly symbol: string
  readonly interval: string
  /** Closed candles, in file order. */
  readonly candles: ReadonlyArray<Candle>
  /** The rows skipped, with where and why. */
  readonly malformed: ReadonlyArray<MalformedRow>
}

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** An interval's length in ms; undefined for "1M" (calendar months) and anything unknown. */
export const intervalMillis = (interval: string): number | undefined => {
  const m = /^(\d+)([smhdw])$/.exec(interval)
  return m === null ? undefined : Number(m[1]) * units[m[2]!]!
}

export const isInterval = (s: string) => (klineIntervals as ReadonlyArray<string>).includes(s)

/** Symbol and interval from a file name such as "ADABTC-1m-2021-11-27.csv" or "XRP_ETH-1m.json". */
export const namePrefix = (path: string): { readonly symbol?: string; readonly interval?: string } => {
  const base = path.split(/[\\/]/).pop()!.replace(/\.[^.]*$/, "")
  const [first, second] = base.split("-")
  // only a prefix: "SYMBOL-..." (a bare "data.csv" names no symbol)
  const symbol = second === undefined ? undefined : first?.replace(/[_/]/g, "").toUpperCase()
  return {
    ...(symbol !== undefined && /^[A-Z0-9]{2,20}$/.test(symbol) ? { symbol } : {}),
    ...(second !== undefined && isInterval(second) ? { interval: second } : {})
  }
}

/** A row's numbers before the symbol and interval are attached. */
export interface Row {
  readonly openTime: number
  readonly closeTime: number | undefined
  readonly open: number
  readonly high: number
  readonly low: number
  readonly close: number
  readonly volume: number
  readonly quoteVolume: number | undefined
  readonly trades: number
}

const num = (v: unknown): number =>
  typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN

/** ms, accepting Binance's µs timestamps. */
const time = (v: unknown): number => {
  const n = num(v)
  return Number.isSafeInteger(n) && n >= 1e15 ? Math.floor(n / 1000) : n
}

/** The row's fields checked (`full`: Binance's 12 fields, close time included); a string says what is wrong. */
export const checkRow = (fields: ReadonlyArray<unknown>, full: boolean): Row | string => {
  if (fields.length < (full ? 12 : 6)) return `expected ${full ? 12 : 6} fields, got ${fields.length}`
  const [openTime, open, high, low, close, volume] = [time(fields[0]), ...fields.slice(1, 6).map(num)] as [
    number,
    number,
    number,
    number,
    number,
    number
  ]
  if (!Number.isSafeInteger(openTime) || openTime < 0) return `open time ${JSON.stringify(fields[0])} is not a timestamp`
  const names = ["open", "high", "low", "close", "volume"] as const
  const values = [open, high, low, close, volume]
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!) || values[i]! < 0) {
      return `${names[i]} ${JSON.stringify(fields[i + 1])} is not a number >= 0`
    }
  }
  if (high < Math.max(open, close, low) || low > Math.min(open, close)) {
    return `high ${high} / low ${low} do not contain open ${open} and close ${close}`
  }
  if (!full) return { openTime, closeTime: undefined, open, high, low, close, volume, quoteVolume: undefined, trades: 0 }
  const closeTime = time(fields[6])
  const quoteVolume = num(fields[7])
  const trades = num(fields[8])
  if (!Number.isSafeInteger(closeTime) || closeTime <= openTime) return `close time ${JSON.stringify(fields[6])} is not after the open time`
  if (!Number.isFinite(quoteVolume) || quoteVolume < 0) return `quote volume ${JSON.stringify(fields[7])} is not a number >= 0`
  if (!Number.isSafeInteger(trades) || trades < 0) return `trades ${JSON.stringify(fields[8])} is not a whole number >= 0`
  return { openTime, closeTime, open, high, low, close, volume, quoteVolume, trades }
}

/** Rows with their line (CSV) or row (JSON) number, or why the whole text cannot be read. */
const splitRows = (
  text: string,
  format: "csv" | "json"
): ReadonlyArray<{ readonly line: number; readonly fields: ReadonlyArray<unknown> | string }> | string => {
  if (format === "json") {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (e) {
      return `not JSON: ${String(e)}`
    }
    if (!Array.isArray(parsed)) return "expected a JSON array of [time, open, high, low, close, volume] rows"
    return parsed.map((row, i) => ({
      line: i + 1,
      fields: Array.isArray(row) ? row : `expected an array, got ${JSON.stringify(row)}`
    }))
  }
  const lines = text.split(/\r?\n/)
  const rows: Array<{ line: number; fields: ReadonlyArray<unknown> }> = []
  lines.forEach((raw, i) => {
    const line = raw.trim()
    if (line === "") return
    const fields = line.split(",").map((f) => f.trim())
    // a header: the first line, when its first field is not a number ("open_time")
    if (i === 0 && Number.isNaN(Number(fields[0]))) return
    rows.push({ line: i + 1, fields })
  })
  return rows
}

/** Parses a candle file's text (`path` names it in messages and gives the default symbol and interval). */
export const parse = (
  text: string,
  options: CandleFileOptions
): Effect.Effect<CandleFileContent, CandleFileError> =>
  Effect.gen(function*() {
    const { path } = options
    const format = /\.json$/i.test(path) || text.trimStart().startsWith("[") ? "json" : "csv"
    const unit = format === "csv" ? "line" : "row"
    const fromName = namePrefix(path)
    const symbol = (options.symbol ?? fromName.symbol)?.toUpperCase()
    if (symbol === undefined || !/^[A-Z0-9]{2,20}$/.test(symbol)) {
      return yield* new CandleFileError({
        path,
        option: "symbol",
        reason: `cannot tell the symbol${symbol === undefined ? " from the file name" : ` from ${JSON.stringify(symbol)}`}: pass --symbol, such as ADABTC`
      })
    }
    const split = splitRows(text, format)
    if (typeof split === "string") return yield* new CandleFileError({ path, option: "candles", reason: split })
    const malformed: Array<MalformedRow> = []
    const rows: Array<Row> = []
    for (const { fields, line } of split) {
      const row = typeof fields === "string"
        ? fields
        : checkRow(fields, format === "csv" || fields.length >= 12)
      const reason = typeof row === "string"
        ? row
        : rows.length > 0 && row.openTime <= rows[rows.length - 1]!.openTime
        ? `open time ${row.openTime} is not after the previous row's ${rows[rows.length - 1]!.openTime}`
        : undefined
      if (reason === undefined) {
        rows.push(row as Row)
        continue
      }
      if (options.strict === true) return yield* new CandleFileError({ path, option: "candles", line, unit, reason })
      malformed.push({ line, unit, reason })
      yield* Effect.logWarning(`${path}: ${unit} ${line} skipped: ${reason}`).pipe(
        Effect.annotateLogs({ component: "candle-file" })
      )
    }
    // the interval: given, from the file name, or the spacing of the first two rows
    const spacing = rows.length > 1 ? rows[1]!.openTime - rows[0]!.openTime : undefined
    const interval = options.interval ?? fromName.interval ??
      klineIntervals.find((i) => spacing !== undefined && intervalMillis(i) === spacing)
    if (interval === undefined || !isInterval(interval)) {
      return yield* new CandleFileError({
        path,
        option: "interval",
        reason: `cannot tell the interval${interval === undefined ? "" : ` from ${JSON.stringify(interval)}`}: pass --interval, one of ${klineIntervals.join(", ")}`
      })
    }
    const length = intervalMillis(interval)
    const candles = rows.map((row, i): Candle => {
      const next = rows[i + 1]
      // the next row's open time - 1, but never past the interval (a gap before the next row)
      const closeTime = row.closeTime ??
        (next !== undefined
          ? Math.min(next.openTime - 1, length === undefined ? Infinity : row.openTime + length - 1)
          : length !== undefined
          ? row.openTime + length - 1
          : (() => { // 1M: the calendar month
            const d = new Date(row.openTime)
            return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()) - 1
          })())
      return {
        symbol,
        interval,
        openTime: row.openTime,
        closeTime,
        open: row.open,
        high: row.high,
        low: row.low,
        close: row.close,
        volume: row.volume,
        quoteVolume: row.quoteVolume ?? row.close * row.volume,
        trades: row.trades,
        isClosed: true
      }
    })
    if (candles.length === 0) {
      return yield* new CandleFileError({ path, option: "candles", reason: "no candles in the file" })
    }
    return { path, format, symbol, interval, candles, malformed }
  })

/**
 * The recorded candles of a journal file, as a candle file's content. `JournalCandles` (and with it SQLite) is
 * loaded only for a journal: a CSV's reader, in every thread of a sweep, does without it.
 */
const readJournal = (options: CandleFileOptions): Effect.Effect<CandleFileContent, CandleFileError> =>
  Effect.promise(() => import("./JournalCandles.js")).pipe(
    Effect.flatMap((JournalCandles) => JournalCandles.read(options)),
    Effect.map((recorded): CandleFileContent => ({
      path: options.path,
      format: "journal",
      symbol: recorded.symbol,
      interval: recorded.interval,
      candles: recorded.candles,
      malformed: recorded.skipped.map(({ reason, seq }) => ({ line: seq, unit: "row", reason }))
    })),
    Effect.mapError((e) =>
      new CandleFileError({
        path: e.path,
        option: e.option,
        reason: e.reason,
        ...(e.seq === undefined ? {} : { line: e.seq, unit: "row" as const })
      })
    )
  )

/** Reads and parses a candle file; a file that cannot be read fails naming it. */
export const read = (options: CandleFileOptions): Effect.Effect<CandleFileContent, CandleFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const cannotRead = (e: { readonly message: string }) =>
      new CandleFileError({ path: options.path, option: "candles", reason: `cannot read it: ${e.message}` })
    // a journal is told by SQLite's header, not by its name
    const header = yield* Effect.scoped(Effect.flatMap(fs.open(options.path), (file) => file.readAlloc(16))).pipe(
      Effect.mapError(cannotRead)
    )
    if (Option.isSome(header) && isSqliteHeader(header.value)) return yield* readJournal(options)
    const text = yield* fs.readFileString(options.path).pipe(Effect.mapError(cannotRead))
    return yield* parse(text, options)
  })
