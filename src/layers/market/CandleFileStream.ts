import * as FileSystem from "@effect/platform/FileSystem"
import { Chunk, Effect, Option, Stream } from "effect"
import { klineIntervals } from "../../domain/Binance.js"
import type { Candle } from "../../domain/Candle.js"
import * as CandleFile from "./CandleFile.js"
import { fastRow, makeRow } from "./internal/klineBytes.js"
import { isSqliteHeader } from "./internal/sqliteHeader.js"

/**
 * A candle file as a stream, for backtests of any length: Binance's kline CSV is read and parsed 64 KiB at a
 * time as the backtest consumes it, so memory does not grow with the file. JSON arrays and journals are read
 * whole (`CandleFile.read`) and then streamed. Rows are checked exactly as `CandleFile.read` checks them.
 */

export interface CandleSeries {
  readonly path: string
  readonly format: CandleFile.CandleFileContent["format"]
  readonly symbol: string
  readonly interval: string
  /** The closed candles in file order; run it once. A file with no candle fails it at the end. */
  readonly candles: Stream.Stream<Candle, CandleFile.CandleFileError>
  /**
   * The same candles handed to `f` in arrays as they are read, each once `f` is done with the one before (a
   * CSV's arrays are the reader's and emptied then: `f` copies what it keeps); run either this or `candles`,
   * once. No Stream between the reads and `f`: Effect's Stream machinery keeps what it carries past the young
   * generation's collections (`Stream.fromIterable` of a million objects promoted a third of what it
   * allocated to the old generation; a loop over the same iterator, nothing).
   */
  readonly forEachBatch: <E, R>(
    f: (candles: ReadonlyArray<Candle>) => Effect.Effect<void, E, R>
  ) => Effect.Effect<void, CandleFile.CandleFileError | E, R>
  /** The rows skipped, with where and why: complete once `candles` (or `forEachBatch`) has run. */
  readonly malformed: ReadonlyArray<CandleFile.MalformedRow>
}

/** Bytes read to tell the format and the rows' spacing before the stream starts. */
const headBytes = 64 * 1024
// small enough that a read's candles are handled before the young generation's next collection: read a
// megabyte at a time, every candle outlived two and was promoted, and a million candles peaked 100 MiB higher
const chunkBytes = 64 * 1024

const fieldsOf = (line: string) => line.split(",")

const newline = 10
const lastNewline = new Uint8Array([newline])

/** The series of candles in memory: a whole file's content, or candles given as an array. */
export const ofContent = (content: CandleFile.CandleFileContent): CandleSeries => ({
  ...content,
  candles: Stream.fromIterable(content.candles),
  forEachBatch: (f) => f(content.candles)
})

/** A CSV line's number and text; the header (a first line whose first field is not a number) is no row. */
const isHeader = (lineNo: number, line: string) => lineNo === 1 && Number.isNaN(Number(fieldsOf(line)[0]))

/** The interval given, from the file name, or from the spacing of the head's first two well-formed rows. */
const intervalOf = (options: CandleFile.CandleFileOptions, headText: string): string | undefined => {
  const given = options.interval ?? CandleFile.namePrefix(options.path).interval
  if (given !== undefined) return given
  const opens: Array<number> = []
  const lines = headText.split(/\r?\n/)
  for (let i = 0; i < lines.length && opens.length < 2; i++) {
    const line = lines[i]!.trim()
    if (line === "" || isHeader(i + 1, line)) continue
    const row = CandleFile.checkRow(fieldsOf(line), true)
    if (typeof row !== "string") opens.push(row.openTime)
  }
  const spacing = opens.length === 2 ? opens[1]! - opens[0]! : undefined
  return klineIntervals.find((i) => spacing !== undefined && CandleFile.intervalMillis(i) === spacing)
}

/** Opens a candle file as a stream; the symbol, the interval and an unreadable file fail here, before any candle. */
export const open = (options: CandleFile.CandleFileOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { path } = options
    const cannotRead = (e: { readonly message: string }) =>
      new CandleFile.CandleFileError({ path, option: "candles", reason: `cannot read it: ${e.message}` })
    const head = yield* Effect.scoped(Effect.flatMap(fs.open(path), (file) => file.readAlloc(headBytes))).pipe(
      Effect.mapError(cannotRead),
      Effect.map(Option.getOrElse(() => new Uint8Array(0)))
    )
    const headText = new TextDecoder().decode(head)
    if (isSqliteHeader(head) || /\.json$/i.test(path) || headText.trimStart().startsWith("[")) {
      return ofContent(yield* CandleFile.read(options))
    }
    const symbol = (options.symbol ?? CandleFile.namePrefix(path).symbol)?.toUpperCase()
    if (symbol === undefined || !/^[A-Z0-9]{2,20}$/.test(symbol)) {
      return yield* new CandleFile.CandleFileError({
        path,
        option: "symbol",
        reason: `cannot tell the symbol${symbol === undefined ? " from the file name" : ` from ${JSON.stringify(symbol)}`}: pass --symbol, such as ADABTC`
      })
    }
    const interval = intervalOf(options, headText)
    if (interval === undefined || !CandleFile.isInterval(interval)) {
      return yield* new CandleFile.CandleFileError({
        path,
        option: "interval",
        reason: `cannot tell the interval${interval === undefined ? "" : ` from ${JSON.stringify(interval)}`}: pass --interval, one of ${klineIntervals.join(", ")}`
      })
    }
    const malformed: Array<CandleFile.MalformedRow> = []
    const settings = { path, symbol, interval, strict: options.strict === true, malformed }
    // one pass over the file, for either way of reading it: each pull reads the next 64 KiB and gives its
    // candles, the last line's once the bytes are done, then None
    const pass = Effect.gen(function*() {
      const rows = csvRows(settings)
      const file = yield* Effect.mapError(fs.open(path), cannotRead)
      let ended = false
      return Effect.flatMap(Effect.mapError(file.readAlloc(chunkBytes), cannotRead), (bytes) => {
        if (Option.isSome(bytes)) return Effect.asSome(rows.text(bytes.value))
        if (ended) return Effect.succeedNone
        ended = true
        return Effect.asSome(rows.end())
      })
    })
    const candles = Stream.unwrapScoped(Effect.map(pass, (pull) =>
      Stream.repeatEffectChunkOption(Effect.flatMap(Effect.mapError(pull, Option.some), (chunk) =>
        Option.isSome(chunk) ? Effect.succeed(chunk.value) : Effect.fail(Option.none())))))
    const forEachBatch = <E, R>(f: (candles: ReadonlyArray<Candle>) => Effect.Effect<void, E, R>) =>
      Effect.scoped(Effect.gen(function*() {
        const pull = yield* pass
        for (let chunk = yield* pull; Option.isSome(chunk); chunk = yield* pull) {
          if (chunk.value.length === 0) continue
          // the read's own array (made by `lines`), emptied once `f` is done with it: arrays of candles stayed
          // reachable past the young generation's collections, and every candle in them was promoted to the
          // old generation (some 300 bytes a candle of work for the collector, and a third slower)
          const candles = Chunk.toReadonlyArray(chunk.value) as Array<Candle>
          yield* f(candles)
          candles.length = 0
        }
      }))
    return { path, format: "csv", symbol, interval, candles, forEachBatch, malformed } satisfies CandleSeries
  })

/** The parser of one pass over a CSV file: bytes in, candles out, a partial last line carried to the next bytes. */
const csvRows = (series: {
  readonly path: string
  readonly symbol: string
  readonly interval: string
  readonly strict: boolean
  readonly malformed: Array<CandleFile.MalformedRow>
}) => {
  const decoder = new TextDecoder()
  // the fast path's row, filled in place and copied into each candle
  const scratch = makeRow()
  // the bytes of a partial last line, read again with the next bytes
  let carry = new Uint8Array(0)
  let lineNo = 0
  let lastOpen = -Infinity
  let count = 0

  const lines = (bytes: Uint8Array): Effect.Effect<Chunk.Chunk<Candle>, CandleFile.CandleFileError> =>
    Effect.suspend(() => {
      const out: Array<Candle> = []
      const skipped: Array<CandleFile.MalformedRow> = []
      let start = 0
      while (start <= bytes.length) {
        const end = bytes.indexOf(newline, start)
        if (end < 0) {
          carry = bytes.slice(start)
          break
        }
        lineNo++
        // a plain row is read from the bytes; anything else (a header, a bad row) as text, as it always was
        let row: CandleFile.Row | string = scratch
        if (!fastRow(bytes, start, end, scratch)) {
          const line = decoder.decode(bytes.subarray(start, end)).trim()
          start = end + 1
          if (line === "" || isHeader(lineNo, line)) continue
          row = CandleFile.checkRow(fieldsOf(line), true)
        } else {
          start = end + 1
        }
        const reason = typeof row === "string"
          ? row
          : row.openTime <= lastOpen
          ? `open time ${row.openTime} is not after the previous row's ${lastOpen}`
          : undefined
        if (reason !== undefined) {
          const bad = { line: lineNo, unit: "line" as const, reason }
          if (series.strict) return Effect.fail(new CandleFile.CandleFileError({ path: series.path, option: "candles", ...bad }))
          skipped.push(bad)
          continue
        }
        const r = row as CandleFile.Row
        lastOpen = r.openTime
        out.push({
          symbol: series.symbol,
          interval: series.interval,
          openTime: r.openTime,
          closeTime: r.closeTime!, // a 12-field row has its close time
          open: r.open,
          high: r.high,
          low: r.low,
          close: r.close,
          volume: r.volume,
          quoteVolume: r.quoteVolume!,
          trades: r.trades,
          isClosed: true
        })
      }
      count += out.length
      const candles = Chunk.unsafeFromArray(out)
      if (skipped.length === 0) return Effect.succeed(candles)
      series.malformed.push(...skipped)
      return Effect.as(
        Effect.forEach(skipped, (bad) =>
          Effect.logWarning(`${series.path}: line ${bad.line} skipped: ${bad.reason}`).pipe(
            Effect.annotateLogs({ component: "candle-file" })
          ), { discard: true }),
        candles
      )
    })

  const joined = (bytes: Uint8Array) => {
    if (carry.length === 0) return bytes
    const all = new Uint8Array(carry.length + bytes.length)
    all.set(carry)
    all.set(bytes, carry.length)
    return all
  }

  return {
    text: (bytes: Uint8Array) => lines(joined(bytes)),
    /** The last line (a file need not end with a newline); a file without a candle fails here. */
    end: () =>
      Effect.flatMap(lines(joined(lastNewline)), (last) =>
        count === 0
          ? Effect.fail(new CandleFile.CandleFileError({ path: series.path, option: "candles", reason: "no candles in the file" }))
          : Effect.succeed(last))
  }
}
