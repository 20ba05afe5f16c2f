import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Data, Deferred, Effect, FiberId, Option } from "effect"
import { type RestKline, restKlineToCandle, RestKlines } from "../../../../domain/Binance.js"
import { backoffDelay, type Collector, type Hold } from "./Collector.js"
import { redact } from "./Describe.js"

/** Binance's largest page of klines. */
export const pageLimit = 1000

/** One failed `GET /api/v3/klines`. */
export class BinanceBackfillError extends Data.TaggedError("BinanceBackfillError")<{
  readonly symbol: string
  readonly detail: string
  readonly status?: number
  /** From `Retry-After` on a 429 or 418. */
  readonly retryAfterMillis?: number
}> {
  override get message() {
    return `klines request for ${this.symbol} failed${this.status === undefined ? "" : ` (HTTP ${this.status})`}: ${this.detail}`
  }
}

const retryAfterMillis = (header: string | undefined, now: number): number | undefined => {
  if (header === undefined) return undefined
  const seconds = Number(header)
  if (header.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const fetchPage = (
  collector: Collector,
  http: HttpClient.HttpClient,
  symbol: string,
  startTime: number
): Effect.Effect<ReadonlyArray<RestKline>, BinanceBackfillError> =>
  http.get(`${collector.options.restUrl}/api/v3/klines`, {
    urlParams: { symbol, interval: collector.options.interval, startTime: String(startTime), limit: String(pageLimit) }
  }).pipe(
    Effect.mapError((e) => new BinanceBackfillError({ symbol, detail: redact(e.message) })),
    Effect.timeoutFail({
      duration: collector.options.requestTimeoutMillis,
      onTimeout: () => new BinanceBackfillError({ symbol, detail: "timed out" })
    }),
    Effect.flatMap((res): Effect.Effect<ReadonlyArray<RestKline>, BinanceBackfillError> => {
      if (res.status === 200) {
        return HttpClientResponse.schemaBodyJson(RestKlines)(res).pipe(
          Effect.mapError((e) =>
            new BinanceBackfillError({ symbol, status: 200, detail: `bad body: ${redact(e.message)}` })
          )
        )
      }
      const retryAfter = res.status === 429 || res.status === 418
        ? retryAfterMillis(res.headers["retry-after"], collector.clock.unsafeCurrentTimeMillis())
        : undefined
      return res.text.pipe(
        Effect.orElseSucceed(() => ""),
        Effect.flatMap((body) =>
          Effect.fail(
            new BinanceBackfillError({
              symbol,
              status: res.status,
              detail: body.slice(0, 200),
              ...(retryAfter === undefined ? {} : { retryAfterMillis: retryAfter })
            })
          )
        )
      )
    })
  )

/** A page, retried: after `Retry-After` on 429/418, with backoff otherwise. None once the attempts run out. */
const fetchPageRetrying = (collector: Collector, http: HttpClient.HttpClient, symbol: string, startTime: number) =>
  Effect.gen(function*() {
    for (let attempt = 0;; attempt++) {
      const result = yield* Effect.either(fetchPage(collector, http, symbol, startTime))
      if (result._tag === "Right") return Option.some(result.right)
      const error = result.left
      if (attempt + 1 >= collector.options.backfillMaxAttempts) {
        yield* Effect.logError(`${collector.name}: backfill of ${symbol} gave up after ${attempt + 1} attempts`, error)
        return Option.none()
      }
      const wait = error.retryAfterMillis ?? (yield* backoffDelay(collector.options, attempt))
      yield* Effect.logWarning(`${collector.name}: ${error.message}; retrying in ${wait} ms`).pipe(
        Effect.annotateLogs({ symbol, attempt: attempt + 1, status: error.status ?? "none" })
      )
      yield* Effect.sleep(wait)
    }
  })

/** Publishes, in order, the closed candles of a symbol after the last one published, page by page. */
const backfillSymbol = (collector: Collector, http: HttpClient.HttpClient, symbol: string) =>
  Effect.gen(function*() {
    const { interval } = collector.options
    const last = collector.lastClosed.get(symbol)
    if (last === undefined) return
    let startTime = last + 1
    let recovered = 0
    while (true) {
      const page = yield* fetchPageRetrying(collector, http, symbol, startTime)
      if (Option.isNone(page)) break
      const rows = page.value
      const now = yield* collector.marketNow
      let reachedOpen = false
      for (const row of rows) {
        if (row[6] >= now) {
          reachedOpen = true // the candle still open: its closing frame comes over the WebSocket
          break
        }
        yield* collector.awaitRoom
        if (yield* collector.publishClosed(restKlineToCandle(row, symbol, interval, true))) {
          collector.counters.backfilled++
          recovered++
        }
      }
      if (reachedOpen || rows.length < pageLimit) break
      startTime = rows[rows.length - 1]![0] + 1
    }
    if (recovered > 0) yield* Effect.logInfo(`${collector.name}: backfilled ${recovered} ${symbol} ${interval} candles`)
  })

/** Publishes a symbol's held live candles, in order, then lets its next ones through. */
const release = (collector: Collector, symbol: string, hold: Hold) =>
  Effect.gen(function*() {
    // frames handled meanwhile still join the hold: the loop ends with none left, then the hold goes at once
    for (let i = 0; i < hold.candles.length; i++) yield* collector.publishClosed(hold.candles[i]!)
    if (collector.holds.get(symbol) === hold) collector.holds.delete(symbol)
  })

/**
 * Starts holding the live closed candles of the symbols that have a gap to
 * backfill (those with a candle published before): call it when the
 * connection opens, before its first frame is handled. Returns them.
 */
export const holdGaps = (collector: Collector, symbols: ReadonlyArray<string>): ReadonlyArray<string> => {
  const held = symbols.filter((symbol) => collector.lastClosed.has(symbol))
  for (const symbol of held) collector.holds.set(symbol, { candles: [], full: Deferred.unsafeMake(FiberId.none) })
  return held
}

/**
 * Backfills the held symbols in the background while the others' live
 * candles flow. Each symbol's held candles are published once its gap is
 * settled: recovered, or given up on after `gapHold`, when more than
 * `maxHeldCandles` wait, or when the REST attempts run out. The collector
 * reports a gap given up on when the next candle is published. Interrupted
 * (the connection ended), it drops what it held: the next connection
 * backfills from the last candle published. Never fails.
 */
export const backfill = (
  collector: Collector,
  http: HttpClient.HttpClient,
  symbols: ReadonlyArray<string>
): Effect.Effect<void> => {
  const holds = new Map(symbols.flatMap((s) => {
    const hold = collector.holds.get(s)
    return hold === undefined ? [] : [[s, hold] as const]
  }))
  const dropHolds = Effect.sync(() => {
    for (const [symbol, hold] of holds) if (collector.holds.get(symbol) === hold) collector.holds.delete(symbol)
  })
  return Effect.forEach(holds, ([symbol, hold]) => {
    const bound = Effect.race(
      Effect.sleep(collector.options.gapHoldMillis),
      Deferred.await(hold.full)
    ).pipe(Effect.zipRight(Effect.logWarning(
      `${collector.name}: the backfill of ${symbol} did not settle within its bound; letting its live candles through`
    ).pipe(Effect.annotateLogs({ symbol, held: hold.candles.length }))))
    return Effect.raceFirst(backfillSymbol(collector, http, symbol), bound).pipe(
      Effect.zipRight(release(collector, symbol, hold))
    )
  }, { concurrency: collector.options.backfillConcurrency, discard: true }).pipe(Effect.ensuring(dropHolds))
}
