import { Chunk, Console, Effect, Layer, Stream } from "effect"
import type { Signal, SignalDirection } from "../domain/Signal.js"
import * as JournalCandles from "../layers/market/JournalCandles.js"
import * as SqliteJournal from "../layers/journal/SqliteJournal.js"
import { EventBus } from "../services/EventBus.js"
import { EventLog } from "../services/Journal.js"
import type { BacktestReport } from "../layers/engine/Backtest.js"
import { type TradingFlags, strategyFlagsOf, tradingOptionsOf } from "./backtestCommand.js"
import { backtestProgram, checkReportFiles } from "./BacktestOutput.js"
import { ConfigurationError } from "./ConfigurationError.js"
import { resolveStrategy } from "./StrategyModule.js"

export interface ReplayOptions {
  /** The journal recorded by `trading-bus run --record`; it is only read. */
  readonly journal: string
  readonly flags: TradingFlags
  /** Required when the log holds several symbols (then several intervals). */
  readonly symbol?: string
  readonly interval?: string
  /** Fail on a recorded candle out of order instead of skipping it. */
  readonly strict?: boolean
  readonly reportJson?: string
  readonly reportHtml?: string
}

/** Where the recorded and the replayed signals first part: the candle's close time and each side's direction. */
export interface Divergence {
  readonly time: number
  /** Undefined when only the other side has a signal at this candle. */
  readonly recorded?: SignalDirection
  readonly replayed?: SignalDirection
}

export interface SignalComparison {
  readonly recorded: number
  readonly replayed: number
  /** Signals of the same candle (close time) and direction on both sides. */
  readonly identical: number
  readonly divergence?: Divergence
}

/**
 * Compares two signal sequences of one symbol, each in candle order, by their candle (a signal's `timestamp`
 * is the close time of the candle that caused it): a candle with a signal on one side only, or with two
 * directions, is a difference; the first one is kept.
 */
export const compareSignals = (
  recorded: ReadonlyArray<Signal>,
  replayed: ReadonlyArray<Signal>
): SignalComparison => {
  let i = 0
  let j = 0
  let identical = 0
  let divergence: Divergence | undefined
  const differ = (d: Divergence) => {
    divergence ??= d
  }
  while (i < recorded.length || j < replayed.length) {
    const r = recorded[i]
    const p = replayed[j]
    if (r !== undefined && p !== undefined && r.timestamp === p.timestamp) {
      if (r.direction === p.direction) identical++
      else differ({ time: r.timestamp, recorded: r.direction, replayed: p.direction })
      i++
      j++
    } else if (r !== undefined && (p === undefined || r.timestamp < p.timestamp)) {
      differ({ time: r.timestamp, recorded: r.direction })
      i++
    } else {
      differ({ time: p!.timestamp, replayed: p!.direction })
      j++
    }
  }
  return { recorded: recorded.length, replayed: replayed.length, identical, ...(divergence ? { divergence } : {}) }
}

/** "SMA(3)/SMA(8)" from a recorded signal's reason, when the SMA strategy wrote it. */
const recordedStrategy = (signals: ReadonlyArray<Signal>): string | undefined => {
  const first = signals[0]
  if (first === undefined) return undefined
  const sma = /SMA\((\d+)\).*SMA\((\d+)\)/.exec(first.reason)
  return sma === null ? first.strategy : `${first.strategy} SMA(${sma[1]})/SMA(${sma[2]})`
}

/** What `trading-bus replay` prints after the backtest report. */
export const formatComparison = (
  c: SignalComparison,
  context: { readonly recordedWith?: string; readonly replayedWith: string }
): string => {
  const head = `replay: ${c.recorded} recorded signals, ${c.replayed} replayed, ${c.identical} identical`
  if (c.divergence === undefined) return `${head}\nreplay: every recorded signal was replayed identically`
  const d = c.divergence
  return [
    head,
    `replay: first divergence at the candle closing ${new Date(d.time).toISOString()}: recorded ${d.recorded ?? "no signal"}, replayed ${d.replayed ?? "no signal"}`,
    `replay: a difference is expected when the strategy flags differ from the recorded run's (recorded: ${
      context.recordedWith ?? "unknown"
    }; replayed: ${context.replayedWith}), or when the live run's sliding data queue dropped candles (its summary's queues.data.dropped): the log holds every candle published, the live strategy saw only those it handled`
  ].join("\n")
}

/**
 * The recorded signals of the replayed candles: in their time range, and the first at each candle, as the
 * backtest keeps the first recorded candle of each time (a file may hold several runs of the symbol).
 */
const signalsOf = (signals: ReadonlyArray<Signal>, report: { readonly from: number; readonly to: number }) => {
  const seen = new Set<number>()
  return signals.filter((s) => {
    if (s.timestamp < report.from || s.timestamp > report.to || seen.has(s.timestamp)) return false
    seen.add(s.timestamp)
    return true
  })
}

/** The series the options select and its recorded signals, read from the journal (which is then closed). */
const readRecorded = (options: ReplayOptions) =>
  Effect.gen(function*() {
    const log = yield* EventLog
    const series = JournalCandles.choose(options.journal, yield* log.candleSeries, options)
    if (series instanceof JournalCandles.JournalCandlesError) return yield* series
    const signals = yield* Stream.runCollect(log.recorded({ types: ["SignalGenerated"], symbol: series.symbol }))
    return {
      series,
      signals: Chunk.toReadonlyArray(signals).flatMap((e) => e.event.type === "SignalGenerated" ? [e.event.payload] : [])
    }
  }).pipe(Effect.provide(SqliteJournal.layer({ filename: options.journal, mustExist: true })))

/**
 * Runs a recorded log's candles through the engine as a backtest does (the engine has no journal: the
 * recorded file is only read), then compares the signals the strategy gives now with the recorded ones for
 * the same symbol and candles, and prints how many are identical and the first divergence.
 */
export const replay = (options: ReplayOptions) =>
  Effect.gen(function*() {
    if (options.journal === ":memory:") {
      return yield* new ConfigurationError({
        flag: "--journal",
        value: options.journal,
        reason: "a replay reads a journal file recorded by trading-bus run --record --journal FILE"
      })
    }
    const files = {
      ...(options.reportJson !== undefined ? { reportJson: options.reportJson } : {}),
      ...(options.reportHtml !== undefined ? { reportHtml: options.reportHtml } : {})
    }
    yield* checkReportFiles(files)
    const strategy = yield* resolveStrategy(strategyFlagsOf(options.flags))
    const { series, signals } = yield* readRecorded(options)
    const replayed: Array<Signal> = []
    const collector = Layer.effectDiscard(Effect.flatMap(EventBus, (bus) =>
      bus.subscribe("SignalGenerated", (event) =>
        Effect.sync(() => {
          replayed.push(event.payload)
        }), { name: "replay-signals" })))
    const report: BacktestReport = yield* backtestProgram({
      ...tradingOptionsOf(options.flags),
      strategy,
      candles: options.journal,
      symbol: series.symbol,
      interval: series.interval,
      ...(options.strict === true ? { strict: true } : {}),
      ...files,
      // as the recorded run's paper broker did: at the close the order was decided on
      fill: "close",
      plugins: collector
    })
    const recorded = signalsOf(signals, report)
    const comparison = compareSignals(recorded, replayed)
    const { fast, slow, strategy: named } = options.flags
    const recordedWith = recordedStrategy(recorded)
    yield* Console.log(formatComparison(comparison, {
      ...(recordedWith !== undefined ? { recordedWith } : {}),
      replayedWith: named === "sma" ? `--strategy sma --fast ${fast} --slow ${slow}` : `--strategy ${named}`
    }))
    return { report, signals: comparison }
  })
