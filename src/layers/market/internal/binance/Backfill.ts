import type { HttpClient } from "@effect/platform"
import { HttpClientResponse } from "@effect/platform"
import { Data, Effect, Option } from "effect"
import { type RestKline, restKlineToCandle, RestKlines } from "../../../../domain/Binance.js"
import { backoffDelay, type Collector } from "./Collector.js"

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
    Effect.mapError((e) => new BinanceBackfillError({ symbol, detail: e.message })),
    Effect.timeoutFail({
      duration: collector.options.requestTimeoutMillis,
      onTimeout: () => new BinanceBackfillError({ symbol, detail: "timed out" })
    }),
    Effect.flatMap((res): Effect.Effect<ReadonlyArray<RestKline>, BinanceBackfillError> => {
      if (res.status === 200) {
        return HttpClientResponse.schemaBodyJson(RestKlines)(res).pipe(
          Effect.mapError((e) => new BinanceBackfillError({ symbol, status: 200, detail: `bad body: ${e.message}` }))
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
        yield* Effect.logError(`binance: backfill of ${symbol} gave up after ${attempt + 1} attempts`, error)
        return Option.none()
      }
      const wait = error.retryAfterMillis ?? (yield* backoffDelay(collector.options, attempt))
      yield* Effect.logWarning(`binance: ${error.message}; retrying in ${wait} ms`).pipe(
        Effect.annotateLogs({ symbol, attempt: attempt + 1, status: error.status ?? "none" })
      )
      yield* Effect.sleep(wait)
    }
  })

/**
 * Publishes, in order, the closed candles of each symbol after the last one
 * published, page by page. A symbol with nothing published yet (the first
 * connection) has nothing to catch up. Never fails: a page that keeps
 * failing is logged as a gap.
 */
export const backfill = (
  collector: Collector,
  http: HttpClient.HttpClient,
  symbols: ReadonlyArray<string>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { interval } = collector.options
    for (const symbol of symbols) {
      const last = collector.lastClosed.get(symbol)
      if (last === undefined) continue
      let startTime = last + 1
      let recovered = 0
      while (true) {
        const page = yield* fetchPageRetrying(collector, http, symbol, startTime)
        if (Option.isNone(page)) break
        const rows = page.value
        const now = collector.clock.unsafeCurrentTimeMillis()
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
      if (recovered > 0) yield* Effect.logInfo(`binance: backfilled ${recovered} ${symbol} ${interval} candles`)
    }
  })
