import { Effect, Queue, type Scope } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { type WebSocket, WebSocketServer } from "ws"

/**
 * A scripted local server speaking Binance's protocol for tests: combined
 * kline streams on `/stream?streams=...` and `GET /api/v3/klines`, both on
 * one 127.0.0.1 port. The test drives it: it waits for connections, sends
 * frames, drops connections, pings, and sets what the REST endpoint returns.
 */

/** One client connection as the server sees it. */
export interface ServerConnection {
  /** The request path and query, e.g. `/stream?streams=btcusdt@kline_1m`. */
  readonly path: string
  /** The stream names of the `streams` query parameter. */
  readonly streams: ReadonlyArray<string>
  /** Sends frames in order: strings and objects (JSON-encoded) as text, `Uint8Array`s as binary frames. */
  readonly send: (...frames: ReadonlyArray<string | Uint8Array | object>) => Effect.Effect<void>
  /** Destroys the TCP socket without a close frame (the client sees 1006). */
  readonly drop: Effect.Effect<void>
  /** Sends a ping with the payload and returns the payload of the pong that answers it. */
  readonly ping: (payload: string) => Effect.Effect<string>
  /** Completes when the connection has closed, from either side. */
  readonly closed: Effect.Effect<void>
}

export interface RestRequest {
  readonly path: string
  readonly params: Readonly<Record<string, string>>
  /** Wall-clock ms when it arrived. */
  readonly at: number
}

/** A scripted REST failure: the status, an optional `Retry-After` (seconds) and body. */
export interface RestFailure {
  readonly status: number
  readonly retryAfter?: number
  readonly body?: string
}

export interface BinanceTestServer {
  readonly wsUrl: string
  readonly restUrl: string
  /** The next connection not yet taken, waiting for it if needed. */
  readonly nextConnection: Effect.Effect<ServerConnection>
  readonly connectionCount: Effect.Effect<number>
  /** The REST rows of an upper-case symbol, served filtered by `startTime` and cut to `limit`. */
  readonly setKlines: (symbol: string, rows: ReadonlyArray<KlineRow>) => Effect.Effect<void>
  /** The next REST requests get these responses, in order, before rows are served again. */
  readonly failRest: (...failures: ReadonlyArray<RestFailure>) => Effect.Effect<void>
  readonly restRequests: Effect.Effect<ReadonlyArray<RestRequest>>
}

export type KlineRow = readonly [
  number,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  number,
  string,
  string,
  string
]

const makeConnection = (ws: WebSocket, path: string): ServerConnection => {
  const streams = new URL(path, "http://localhost").searchParams.get("streams")?.split("/") ?? []
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()))
  return {
    path,
    streams,
    send: (...frames) =>
      Effect.sync(() => {
        for (const frame of frames) {
          if (frame instanceof Uint8Array) ws.send(frame, { binary: true })
          else ws.send(typeof frame === "string" ? frame : JSON.stringify(frame))
        }
      }),
    drop: Effect.sync(() => ws.terminate()),
    ping: (payload) =>
      Effect.async<string>((resume) => {
        const onPong = (data: Buffer) => resume(Effect.succeed(data.toString("utf8")))
        ws.once("pong", onPong)
        ws.ping(payload)
        return Effect.sync(() => ws.off("pong", onPong))
      }),
    closed: Effect.promise(() => closed)
  }
}

/** Starts the server on 127.0.0.1 with a free port; the scope stops it. */
export const make: Effect.Effect<BinanceTestServer, never, Scope.Scope> = Effect.gen(function*() {
  const connections = yield* Queue.unbounded<ServerConnection>()
  const klines = new Map<string, ReadonlyArray<KlineRow>>()
  const failures: Array<RestFailure> = []
  const requests: Array<RestRequest> = []
  let connectionCount = 0

  const onRequest = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    const params = Object.fromEntries(url.searchParams)
    requests.push({ path: url.pathname, params, at: Date.now() })
    const failure = failures.shift()
    if (failure !== undefined) {
      const headers: Record<string, string> = { "content-type": "application/json" }
      if (failure.retryAfter !== undefined) headers["retry-after"] = String(failure.retryAfter)
      res.writeHead(failure.status, headers).end(failure.body ?? JSON.stringify({ code: -1003, msg: "scripted" }))
      return
    }
    if (url.pathname !== "/api/v3/klines") {
      res.writeHead(404).end()
      return
    }
    const startTime = Number(params["startTime"] ?? 0)
    const limit = Number(params["limit"] ?? 500)
    const rows = (klines.get(params["symbol"] ?? "") ?? []).filter((r) => r[0] >= startTime).slice(0, limit)
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(rows))
  }

  const server = yield* Effect.acquireRelease(
    Effect.async<{ http: Http.Server; wss: WebSocketServer }>((resume) => {
      const http = Http.createServer(onRequest)
      const wss = new WebSocketServer({ server: http })
      wss.on("connection", (ws, req) => {
        connectionCount++
        connections.unsafeOffer(makeConnection(ws, req.url ?? "/"))
      })
      http.listen(0, "127.0.0.1", () => resume(Effect.succeed({ http, wss })))
    }),
    ({ http, wss }) =>
      Effect.async<void>((resume) => {
        for (const client of wss.clients) client.terminate()
        wss.close()
        http.closeAllConnections()
        http.close(() => resume(Effect.void))
      })
  )

  const { port } = server.http.address() as AddressInfo
  return {
    wsUrl: `ws://127.0.0.1:${port}`,
    restUrl: `http://127.0.0.1:${port}`,
    nextConnection: Queue.take(connections),
    connectionCount: Effect.sync(() => connectionCount),
    setKlines: (symbol, rows) => Effect.sync(() => void klines.set(symbol, rows)),
    failRest: (...more) => Effect.sync(() => void failures.push(...more)),
    restRequests: Effect.sync(() => [...requests])
  }
})

// ---- fixtures: klines in Binance's wire format ----

export const minute = 60_000
/** A minute boundary in November 2023: every candle of the tests is long closed in real time. */
export const t0 = 28_333_333 * minute

export interface KlineSpec {
  readonly symbol: string
  readonly openTime: number
  readonly closed: boolean
  readonly interval?: string
  readonly close?: number
  readonly trades?: number
}

/** A combined-stream kline frame as Binance sends it. */
export const klineFrame = (spec: KlineSpec) => {
  const symbol = spec.symbol.toUpperCase()
  const interval = spec.interval ?? "1m"
  const close = (spec.close ?? 100 + (spec.openTime - t0) / minute).toFixed(8)
  return {
    stream: `${spec.symbol.toLowerCase()}@kline_${interval}`,
    data: {
      e: "kline",
      E: spec.openTime + (spec.closed ? minute : 1_000),
      s: symbol,
      k: {
        t: spec.openTime,
        T: spec.openTime + minute - 1,
        s: symbol,
        i: interval,
        f: 100,
        L: 200,
        o: "99.00000000",
        c: close,
        h: "120.00000000",
        l: "90.00000000",
        v: "12.50000000",
        n: spec.trades ?? 101,
        x: spec.closed,
        q: "1250.00000000",
        V: "6.00000000",
        Q: "600.00000000",
        B: "0"
      }
    }
  }
}

/** A `GET /api/v3/klines` row; `closeTime` defaults to the candle's end. */
export const klineRow = (openTime: number, options?: { readonly closeTime?: number; readonly close?: number }): KlineRow => [
  openTime,
  "99.00000000",
  "120.00000000",
  "90.00000000",
  (options?.close ?? 100 + (openTime - t0) / minute).toFixed(8),
  "12.50000000",
  options?.closeTime ?? openTime + minute - 1,
  "1250.00000000",
  101,
  "6.00000000",
  "600.00000000",
  "0"
]

/** Rows for `count` consecutive candles from `from`. */
export const klineRows = (from: number, count: number): ReadonlyArray<KlineRow> =>
  Array.from({ length: count }, (_, i) => klineRow(from + i * minute))
