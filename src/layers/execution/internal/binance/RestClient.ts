/**
 * Signed REST calls to Binance Spot, classified by what they tell about the
 * request: answered (ok, or a definite error), or UNKNOWN (a timeout, a
 * dropped connection, a 5XX, -1007/-1006: the request may have executed).
 * Requests refused before processing are sent again here: 429/418 after
 * `Retry-After`, -1021 once after resyncing the server-time offset.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Duration, Effect, Metric, Redacted } from "effect"
import * as Metrics from "../../../../domain/Metrics.js"
import { queryString, type Signer, signedQuery } from "./signing.js"

export type Outcome =
  | { readonly _tag: "Ok"; readonly body: unknown }
  | { readonly _tag: "Refused"; readonly status: number; readonly code: number; readonly msg: string }
  | { readonly _tag: "Unknown"; readonly reason: string }

export interface RestClientOptions {
  readonly restUrl: string
  readonly apiKey: Redacted.Redacted<string>
  readonly signer: Signer
  /** Default 5000 ms, as Binance's. */
  readonly recvWindow: number
  readonly requestTimeout: Duration.Duration
}

const unknownCodes = new Set([-1006, -1007])

export const makeRestClient = (options: RestClientOptions) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const clock = yield* Effect.clock
    let offset = 0
    let usedWeight = 0
    let rateLimitWaits = 0

    const call = (method: "GET" | "POST" | "DELETE", path: string, params: ReadonlyArray<readonly [string, string]>, signed: boolean) =>
      Effect.gen(function*() {
        const query = signed
          ? signedQuery(options.signer, [
            ...params,
            ["recvWindow", String(options.recvWindow)],
            ["timestamp", String(clock.unsafeCurrentTimeMillis() + offset)]
          ])
          : queryString(params)
        const request = HttpClientRequest.make(method)(`${options.restUrl}${path}${query === "" ? "" : `?${query}`}`).pipe(
          signed ? HttpClientRequest.setHeader("X-MBX-APIKEY", Redacted.value(options.apiKey)) : (r) => r
        )
        return yield* http.execute(request).pipe(
          Effect.flatMap((response) =>
            Effect.map(Effect.orElseSucceed(response.text, () => ""), (text) => ({ response, text }))
          ),
          Effect.scoped,
          Effect.timeout(options.requestTimeout),
          Effect.either
        )
      })

    /** A 429 or 418 answer's wait: its `Retry-After`, said in the log and counted. */
    const rateLimited = (status: number, retryAfterHeader: string | undefined, path: string) => {
      const retryAfter = Number(retryAfterHeader)
      rateLimitWaits++
      return Metric.increment(Metrics.binanceRateLimitedTotal).pipe(
        Effect.zipRight(Effect.logWarning("binance: rate limited, waiting")),
        Effect.annotateLogs({ status, retryAfterSeconds: retryAfter, path }),
        Effect.zipRight(Effect.sleep(Duration.seconds(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1)))
      )
    }

    const syncTime: Effect.Effect<boolean> = Effect.gen(function*() {
      const before = clock.unsafeCurrentTimeMillis()
      const result = yield* call("GET", "/api/v3/time", [], false)
      if (result._tag === "Left") return false
      const status = result.right.response.status
      if (status === 429 || status === 418) {
        yield* rateLimited(status, result.right.response.headers["retry-after"], "/api/v3/time")
        return yield* syncTime
      }
      const after = clock.unsafeCurrentTimeMillis()
      try {
        const { serverTime } = JSON.parse(result.right.text) as { serverTime: number }
        if (typeof serverTime !== "number") return false
        offset = serverTime - Math.round((before + after) / 2)
        return true
      } catch {
        return false
      }
    })

    /** One request, answered or UNKNOWN; rate limits waited out and one -1021 resynced before it returns. */
    const send = (
      method: "GET" | "POST" | "DELETE",
      path: string,
      params: ReadonlyArray<readonly [string, string]>,
      signed = true
    ): Effect.Effect<Outcome> =>
      Effect.gen(function*() {
        let resynced = false
        while (true) {
          const result = yield* call(method, path, params, signed)
          if (result._tag === "Left") {
            const error = result.left
            return { _tag: "Unknown", reason: error._tag === "TimeoutException" ? "timed out" : error.message } as const
          }
          const { response, text } = result.right
          const weight = Number(response.headers["x-mbx-used-weight-1m"])
          if (Number.isFinite(weight)) {
            usedWeight = weight
            yield* Metric.set(Metrics.binanceUsedWeight, weight)
          }
          if (response.status === 429 || response.status === 418) {
            // refused before processing: wait as told, then send it again
            yield* rateLimited(response.status, response.headers["retry-after"], path)
            continue
          }
          let body: unknown
          try {
            body = text === "" ? undefined : JSON.parse(text)
          } catch {
            body = undefined
          }
          const code = typeof body === "object" && body !== null && "code" in body ? Number(body.code) : undefined
          const msg = typeof body === "object" && body !== null && "msg" in body ? String(body.msg) : text.slice(0, 200)
          if (response.status >= 500) return { _tag: "Unknown", reason: `HTTP ${response.status}: ${msg}` } as const
          if (code !== undefined && unknownCodes.has(code)) return { _tag: "Unknown", reason: `${code} ${msg}` } as const
          if (code === -1021 && !resynced) {
            // a timestamp outside the window was not processed: resync the clock and try once more
            resynced = true
            yield* syncTime
            continue
          }
          if (response.status >= 400) {
            return { _tag: "Refused", status: response.status, code: code ?? 0, msg } as const
          }
          return { _tag: "Ok", body } as const
        }
      })

    return {
      send,
      syncTime,
      offset: () => offset,
      usedWeight: () => usedWeight,
      rateLimitWaits: () => rateLimitWaits
    }
  })

export type RestClient = Effect.Effect.Success<ReturnType<typeof makeRestClient>>
