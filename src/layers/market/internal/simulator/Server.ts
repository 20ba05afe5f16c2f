/**
 * The simulator's network side: a node:http server for REST with a `ws`
 * WebSocketServer on the same port, speaking Binance's stream protocol.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Runtime, type Scope } from "effect"
import { type WebSocket, WebSocketServer } from "ws"
import { combinedFrame } from "./Protocol.js"

export interface RestRequest {
  readonly method: string
  readonly url: URL
  /** The query string exactly as sent, without the "?": what a signature covers. */
  readonly rawQuery: string
  readonly body: string
  /** The `X-MBX-APIKEY` header. */
  readonly apiKey: string | undefined
}

/** A REST response: status, JSON body and extra headers, or a connection closed without an answer. */
export interface RestResponse {
  readonly status: number
  readonly body: string
  readonly headers?: Readonly<Record<string, string>>
  readonly drop?: boolean
  /** Sent only after this long (a slow exchange). */
  readonly delayMillis?: number
}

export interface ServerOptions {
  readonly host: string
  readonly port: number
  /** Answers a request; `undefined` means an unknown path (404). */
  readonly rest: (request: RestRequest) => Effect.Effect<RestResponse | undefined>
  /** Serves an upgraded WebSocket API (`/ws-api/v3`) socket. */
  readonly onWsApi: (ws: WebSocket) => void
  /** Whether the exchange produces data on a stream, to warn about the ones it does not. */
  readonly knownStream: (stream: string) => boolean
  /** Called whenever a socket has subscribed to at least one stream. */
  readonly onSubscribed: () => void
  /** Bytes waiting in a socket's send buffer above which the generator waits for it. */
  readonly highWaterMark: number
  /** How long the generator waits for a socket that reads nothing before it stalls it (drops its frames), ms. */
  readonly stallAfterMillis: number
}

export interface Server {
  readonly port: number
  /** Sends a raw event to every socket subscribed to `stream`, wrapped for combined-stream sockets. */
  readonly broadcast: (stream: string, rawEvent: string) => void
  /** Sends a WebSocket ping frame to every open socket. */
  readonly pingAll: () => void
  readonly connections: () => number
  /**
   * Waits until every subscribed socket's send buffer is at most `highWaterMark` (polling a real timer:
   * the buffers drain with the network, not with the Clock). A socket whose buffer did not shrink for
   * `stallAfterMillis` is stalled: its frames are dropped until it drains. Returns at once when none is full.
   */
  readonly awaitRoom: Effect.Effect<void>
  /** Frames not sent to stalled sockets, over all sockets. */
  readonly framesDropped: () => number
  /** Bytes waiting in the send buffers, over all sockets. */
  readonly bufferedBytes: () => number
}

interface Client {
  readonly ws: WebSocket
  /** `/stream` sockets get `{"stream","data"}` wrappers; `/ws` sockets get raw events. */
  readonly combined: boolean
  readonly streams: Set<string>
  /** Too slow to wait for: frames to it are dropped while its buffer is above the high-water mark. */
  stalled: boolean
}

/** The streams a connection URL asks for, or undefined when the path is not a stream endpoint. */
const parseStreamPath = (url: URL): { readonly combined: boolean; readonly streams: Array<string> } | undefined => {
  const split = (s: string) => s.split("/").filter((name) => name !== "")
  if (url.pathname === "/stream") return { combined: true, streams: split(url.searchParams.get("streams") ?? "") }
  if (url.pathname === "/ws" || url.pathname === "/ws/") return { combined: false, streams: [] }
  if (url.pathname.startsWith("/ws/")) return { combined: false, streams: split(url.pathname.slice(4)) }
  return undefined
}

/** Binance's live (un)subscription messages: `{"method":"SUBSCRIBE","params":[...],"id":1}`. */
const control = (client: Client, text: string, knownStream: (s: string) => boolean, warn: (s: string) => void) => {
  const error = (code: number, msg: string, id: unknown = null) => JSON.stringify({ error: { code, msg }, id })
  let request: unknown
  try {
    request = JSON.parse(text)
  } catch {
    return error(3, "Invalid JSON: expected value at line 1 column 1")
  }
  if (typeof request !== "object" || request === null || Array.isArray(request)) {
    return error(2, "Invalid request: request must be an object")
  }
  const { id = null, method, params } = request as { id?: unknown; method?: unknown; params?: unknown }
  if (id !== null && typeof id !== "string" && !Number.isSafeInteger(id)) {
    return error(2, "Invalid request: request ID must be an unsigned integer")
  }
  if (method === "LIST_SUBSCRIPTIONS") return JSON.stringify({ result: [...client.streams], id })
  if (method !== "SUBSCRIBE" && method !== "UNSUBSCRIBE") return error(2, "Invalid request: unknown method", id)
  if (!Array.isArray(params) || !params.every((p): p is string => typeof p === "string")) {
    return error(1, "Invalid value type: expected Array of Strings", id)
  }
  for (const stream of params) {
    if (method === "UNSUBSCRIBE") client.streams.delete(stream)
    else {
      client.streams.add(stream)
      if (!knownStream(stream)) warn(stream)
    }
  }
  return JSON.stringify({ result: null, id })
}

const sendJson = (res: Http.ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>> = {}) => {
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json;charset=UTF-8",
    "content-length": Buffer.byteLength(body)
  })
  res.end(body)
}

/** The request body, read whole (order parameters may come as a form body). */
const readBody = (req: Http.IncomingMessage) =>
  Effect.async<string>((resume) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
    req.on("error", () => resume(Effect.succeed("")))
  })

/** Starts the server on `host:port` (0 = any free port); closing the scope terminates every socket and frees the port. */
export const serve = (options: ServerOptions): Effect.Effect<Server, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const run = Runtime.runFork(runtime)
    const clients = new Set<Client>()
    const warnUnknown = (stream: string) =>
      run(Effect.logWarning("simulated exchange: no data on this stream").pipe(Effect.annotateLogs({ stream })))

    const onRequest = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      const question = (req.url ?? "").indexOf("?")
      const apiKey = req.headers["x-mbx-apikey"]
      run(
        readBody(req).pipe(
          Effect.flatMap((body) =>
            options.rest({
              method: req.method ?? "GET",
              url,
              rawQuery: question < 0 ? "" : (req.url ?? "").slice(question + 1),
              body,
              apiKey: Array.isArray(apiKey) ? apiKey[0] : apiKey
            })
          ),
          Effect.map((response) => {
            if (response === undefined) sendJson(res, 404, "")
            else if (response.drop === true) req.socket.destroy()
            else if (response.delayMillis !== undefined && response.delayMillis > 0) {
              const timer = setTimeout(() => {
                if (!res.destroyed) sendJson(res, response.status, response.body, response.headers)
              }, response.delayMillis)
              res.once("close", () => clearTimeout(timer))
            } else sendJson(res, response.status, response.body, response.headers)
          }),
          Effect.catchAllCause((cause) =>
            Effect.logError("simulated exchange: REST handler failed", cause).pipe(
              Effect.annotateLogs({ path: url.pathname }),
              Effect.andThen(Effect.sync(() => {
                if (!res.headersSent) sendJson(res, 500, JSON.stringify({ code: -1000, msg: "An unknown error occurred." }))
              }))
            )
          )
        )
      )
    }

    const wss = new WebSocketServer({ noServer: true })
    const server = Http.createServer(onRequest)
    const apiSockets = new Set<WebSocket>()
    server.on("upgrade", (req: Http.IncomingMessage, socket, head) => {
      if (new URL(req.url ?? "/", "http://localhost").pathname === "/ws-api/v3") {
        wss.handleUpgrade(req, socket, head, (ws) => {
          apiSockets.add(ws)
          ws.on("close", () => apiSockets.delete(ws))
          options.onWsApi(ws)
        })
        return
      }
      const target = parseStreamPath(new URL(req.url ?? "/", "http://localhost"))
      if (target === undefined) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const client: Client = { ws, combined: target.combined, streams: new Set(target.streams), stalled: false }
        for (const stream of client.streams) if (!options.knownStream(stream)) warnUnknown(stream)
        clients.add(client)
        if (client.streams.size > 0) options.onSubscribed()
        ws.on("message", (data, isBinary) => {
          if (isBinary) return
          const reply = control(client, data.toString(), options.knownStream, warnUnknown)
          if (ws.readyState === ws.OPEN) ws.send(reply)
          if (client.streams.size > 0) options.onSubscribed()
        })
        ws.on("close", () => clients.delete(client))
        ws.on("error", () => clients.delete(client))
      })
    })

    const port = yield* Effect.acquireRelease(
      Effect.async<number, Error>((resume) => {
        const onError = (error: Error) => resume(Effect.fail(error))
        server.once("error", onError)
        server.listen(options.port, options.host, () => {
          server.off("error", onError)
          server.on("error", (error) => run(Effect.logError("simulated exchange: server error", error)))
          resume(Effect.succeed((server.address() as AddressInfo).port))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          for (const client of clients) client.ws.terminate()
          clients.clear()
          for (const ws of apiSockets) ws.terminate()
          wss.close()
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )

    let dropped = 0
    const full = (client: Client) =>
      client.streams.size > 0 && client.ws.readyState === client.ws.OPEN &&
      client.ws.bufferedAmount > options.highWaterMark
    const tick = Effect.async<void>((resume) => {
      const timer = setTimeout(() => resume(Effect.void), 1)
      return Effect.sync(() => clearTimeout(timer))
    })
    const awaitRoom = Effect.suspend(() => {
      let waiting = [...clients].filter((c) => !c.stalled && full(c))
      if (waiting.length === 0) return Effect.void
      let since = Date.now()
      let buffered = waiting.map((c) => c.ws.bufferedAmount)
      return Effect.gen(function*() {
        while (waiting.length > 0) {
          if (Date.now() - since >= options.stallAfterMillis) {
            for (const client of waiting) client.stalled = true
            yield* Effect.logWarning("simulated exchange: a client stopped reading; dropping its frames until it does")
              .pipe(Effect.annotateLogs({ clients: waiting.length, bufferedBytes: waiting[0]!.ws.bufferedAmount }))
            return
          }
          yield* tick
          const now = waiting.map((c) => c.ws.bufferedAmount)
          // a client that reads, however slowly, is waited for: only one that stopped is stalled
          if (now.some((n, i) => n < buffered[i]!)) since = Date.now()
          buffered = now
          waiting = waiting.filter((c) => !c.stalled && full(c))
          buffered = waiting.map((c) => c.ws.bufferedAmount)
        }
      })
    })

    return {
      port,
      awaitRoom,
      framesDropped: () => dropped,
      bufferedBytes: () => {
        let total = 0
        for (const client of clients) total += client.ws.bufferedAmount
        return total
      },
      broadcast: (stream, rawEvent) => {
        let combined: string | undefined
        for (const client of clients) {
          if (!client.streams.has(stream) || client.ws.readyState !== client.ws.OPEN) continue
          if (client.stalled) {
            if (client.ws.bufferedAmount > options.highWaterMark) {
              dropped++
              continue
            }
            client.stalled = false
          }
          if (client.combined) client.ws.send(combined ??= combinedFrame(stream, rawEvent))
          else client.ws.send(rawEvent)
        }
      },
      pingAll: () => {
        for (const client of clients) if (client.ws.readyState === client.ws.OPEN) client.ws.ping()
        for (const ws of apiSockets) if (ws.readyState === ws.OPEN) ws.ping()
      },
      connections: () => clients.size
    }
  })
