import { Chunk, Data, Effect, Stream } from "effect"
import type { Candle } from "../../domain/Candle.js"
import { type CandleSeries, EventLog } from "../../services/Journal.js"
import * as SqliteJournal from "../journal/SqliteJournal.js"

/**
 * The closed candles of a recorded event log (a journal written by `trading-bus run --record`), for backtests
 * and replays: its `CandleClosed` events in append order, of one symbol and interval. The file is opened as a
 * journal that must exist (so a locked, foreign or newer file is refused with the journal's own reasons) and
 * is only read.
 */

export { isSqliteHeader } from "./internal/sqliteHeader.js"

/** Why the recorded candles cannot be used; `option` names the setting to fix, as `CandleFileError` does. */
export class JournalCandlesError extends Data.TaggedError("JournalCandlesError")<{
  readonly path: string
  readonly option: "candles" | "symbol" | "interval"
  readonly reason: string
  /** The event's seq (its row in the journal's events table), for a candle that cannot be used. */
  readonly seq?: number
}> {
  override get message() {
    return this.seq === undefined ? `${this.path}: ${this.reason}` : `${this.path}: row ${this.seq}: ${this.reason}`
  }
}

export interface JournalCandlesOptions {
  readonly path: string
  /** Required when the log holds candles of several symbols (case-insensitive). */
  readonly symbol?: string
  /** Required when the log holds several intervals of the chosen symbol. */
  readonly interval?: string
  /** Fail on the first candle that does not follow the previous one instead of skipping it. */
  readonly strict?: boolean
}

export interface RecordedCandles {
  /** As recorded (upper case). */
  readonly symbol: string
  readonly interval: string
  /** In append order, each after the previous one. */
  readonly candles: ReadonlyArray<Candle>
  /** Candles skipped: `seq` is the event's row in the journal. */
  readonly skipped: ReadonlyArray<{ readonly seq: number; readonly reason: string }>
}

const describeSeries = (series: ReadonlyArray<CandleSeries>) =>
  series.map((s) => `${s.symbol} ${s.interval} (${s.candles} candles)`).join(", ")

/** The one series the options select, or why there is none. */
export const choose = (
  path: string,
  all: ReadonlyArray<CandleSeries>,
  options: { readonly symbol?: string; readonly interval?: string }
): CandleSeries | JournalCandlesError => {
  const fail = (option: JournalCandlesError["option"], reason: string) => new JournalCandlesError({ path, option, reason })
  if (all.length === 0) {
    return fail(
      "candles",
      "the journal holds no recorded candles (a journal written without --record holds only orders): record one with trading-bus run --record --journal FILE"
    )
  }
  const symbol = options.symbol?.toUpperCase()
  const ofSymbol = symbol === undefined ? all : all.filter((s) => s.symbol.toUpperCase() === symbol)
  if (ofSymbol.length === 0) {
    return fail("symbol", `the journal holds no candles of ${symbol}; it holds ${describeSeries(all)}`)
  }
  const chosen = options.interval === undefined ? ofSymbol : ofSymbol.filter((s) => s.interval === options.interval)
  if (chosen.length === 0) {
    return fail("interval", `the journal holds no ${options.interval} candles${symbol === undefined ? "" : ` of ${symbol}`}; it holds ${describeSeries(ofSymbol)}`)
  }
  const symbols = [...new Set(chosen.map((s) => s.symbol))]
  if (symbols.length > 1) {
    return fail("symbol", `the journal holds candles of several symbols, ${describeSeries(chosen)}: pass --symbol, one of ${symbols.join(", ")}`)
  }
  if (chosen.length > 1) {
    return fail("interval", `the journal holds several intervals of ${symbols[0]}, ${describeSeries(chosen)}: pass --interval, one of ${chosen.map((s) => s.interval).join(", ")}`)
  }
  return chosen[0]!
}

/** Reads the recorded candles of the series the options select. */
export const read = (options: JournalCandlesOptions): Effect.Effect<RecordedCandles, JournalCandlesError> =>
  Effect.gen(function*() {
    const { path } = options
    const log = yield* EventLog
    const series = choose(path, yield* log.candleSeries, options)
    if (series instanceof JournalCandlesError) return yield* series
    const candles: Array<Candle> = []
    const skipped: Array<{ seq: number; reason: string }> = []
    const entries = yield* Stream.runCollect(
      log.recorded({ types: ["CandleClosed"], symbol: series.symbol, interval: series.interval })
    )
    for (const { event, seq } of Chunk.toReadonlyArray(entries)) {
      if (event.type !== "CandleClosed") continue
      const previous = candles[candles.length - 1]
      // several runs recorded in one file may overlap or go back in time: a backtest needs one ordered series
      if (previous !== undefined && event.payload.openTime <= previous.openTime) {
        const reason = `candle opening at ${event.payload.openTime} is not after the previous one's ${previous.openTime}`
        if (options.strict === true) return yield* new JournalCandlesError({ path, option: "candles", reason, seq })
        skipped.push({ seq, reason })
        continue
      }
      candles.push(event.payload)
    }
    // one line, not one per candle: a second run recorded in the same file repeats all its times
    if (skipped.length > 0) {
      yield* Effect.logWarning(
        `${path}: ${skipped.length} recorded ${series.symbol} ${series.interval} candles skipped, each not after the one before (several runs recorded in one journal?), the first at row ${
          skipped[0]!.seq
        }: ${skipped[0]!.reason}`
      ).pipe(Effect.annotateLogs({ component: "candle-file" }))
    }
    return { symbol: series.symbol, interval: series.interval, candles, skipped }
  }).pipe(
    Effect.catchTag("JournalError", (e) => Effect.fail(new JournalCandlesError({ path: options.path, option: "candles", reason: e.message }))),
    Effect.provide(SqliteJournal.layer({ filename: options.path, mustExist: true })),
    Effect.catchTag("JournalConfigError", (e) =>
      Effect.fail(new JournalCandlesError({ path: options.path, option: "candles", reason: `cannot read it as a journal: ${e.reason}` })))
  )
