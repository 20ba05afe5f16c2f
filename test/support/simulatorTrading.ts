/** Signed requests and WebSocket API clients against the simulated exchange, over real sockets. */
import * as Crypto from "node:crypto"
import { BigDecimal, Context, Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import { WebSocket } from "ws"
import {
  ed25519Signer,
  hmacSigner,
  type Signer,
  signWsParams,
  queryString
} from "../../src/layers/execution/internal/binance/signing.js"
import {
  layer,
  SimulatedExchange,
  type SimulatedExchangeOptions
} from "../../src/layers/market/SimulatedExchange.js"
import type { Order } from "../../src/domain/Order.js"
import { order } from "./fixtures.js"

export const hmacKey = { apiKey: "hmac-key", secret: "test-secret-do-not-use" }
const pair = Crypto.generateKeyPairSync("ed25519")
export const ed25519Key = {
  apiKey: "ed25519-key",
  privatePem: pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  publicPem: pair.publicKey.export({ format: "pem", type: "spki" }).toString()
}
export const hmac: Effect.Effect<Signer> = Effect.orDie(hmacSigner(Redacted.make(hmacKey.secret)))
export const ed25519: Effect.Effect<Signer> = Effect.orDie(ed25519Signer(Redacted.make(ed25519Key.privatePem)))

/** An exchange with both test keys, in the current scope. */
export const startExchange = (options: SimulatedExchangeOptions = {}) =>
  Layer.build(layer({
    speed: 50,
    keys: [
      { apiKey: hmacKey.apiKey, type: "HMAC", secret: hmacKey.secret },
      { apiKey: ed25519Key.apiKey, type: "Ed25519", publicKeyPem: ed25519Key.publicPem }
    ],
    balances: { USDT: "100000", BTC: "1" },
    ...options
  })).pipe(Effect.map(Context.get(SimulatedExchange)), Logger.withMinimumLogLevel(LogLevel.Error))

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: any
}

export interface SignedOptions {
  readonly signer?: Signer
  readonly apiKey?: string | undefined
  /** Sent as the query string unless `inBody`. */
  readonly inBody?: boolean
  /** Appended after signing, to tamper with the request. */
  readonly after?: string
  readonly timestamp?: number
}

/** A signed REST request, `timestamp` added (now by default) and the signature last. */
export const signed = (
  baseUrl: string,
  method: string,
  path: string,
  params: ReadonlyArray<readonly [string, string]>,
  options: SignedOptions = {}
) =>
  Effect.gen(function*() {
    const signer = options.signer ?? (yield* hmac)
    const all = [...params, ["timestamp", String(options.timestamp ?? Date.now())] as const]
    const query = queryString(all)
    const payload = `${query}&signature=${encodeURIComponent(signer.sign(query))}${options.after ?? ""}`
    const apiKey = "apiKey" in options ? options.apiKey : signer.keyType === "HMAC" ? hmacKey.apiKey : ed25519Key.apiKey
    const headers: Record<string, string> = apiKey === undefined ? {} : { "X-MBX-APIKEY": apiKey }
    return yield* Effect.promise(async (): Promise<Reply> => {
      const response = await fetch(
        options.inBody === true ? `${baseUrl}${path}` : `${baseUrl}${path}?${payload}`,
        options.inBody === true
          ? {
            method,
            headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
            body: payload
          }
          : { method, headers }
      )
      const text = await response.text()
      return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) }
    })
  })

/** A request whose connection may be closed without an answer: fails with the fetch error then. */
export const attempt = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.exit(Effect.catchAllDefect(effect, (defect) => Effect.fail(defect)))

export const getPublic = (url: string) =>
  Effect.promise(async (): Promise<Reply> => {
    const response = await fetch(url)
    return { status: response.status, headers: response.headers, body: JSON.parse(await response.text()) }
  })

export interface ApiClient {
  readonly ws: WebSocket
  /** Every message received, parsed. */
  readonly messages: Array<any>
  closed: boolean
  /** Sends a request and waits for the answer with its id. */
  readonly call: (method: string, params?: Record<string, unknown>) => Effect.Effect<any>
  /** Subscribes to the user data stream, signed with `signer`. */
  readonly subscribe: (signer: Signer, extra?: Record<string, string | number>) => Effect.Effect<any>
  readonly events: () => Array<any>
}

let nextId = 1

export const connectApi = (url: string) =>
  Effect.acquireRelease(
    Effect.async<ApiClient, Error>((resume) => {
      const ws = new WebSocket(url)
      const waiting = new Map<unknown, (reply: unknown) => void>()
      const client: ApiClient = {
        ws,
        messages: [],
        closed: false,
        call: (method, params) =>
          Effect.async((done) => {
            const id = `r${nextId++}`
            waiting.set(id, (reply) => done(Effect.succeed(reply)))
            ws.send(JSON.stringify(params === undefined ? { id, method } : { id, method, params }))
          }),
        subscribe: (signer, extra = {}) =>
          client.call(
            "userDataStream.subscribe.signature",
            signWsParams(signer, {
              apiKey: signer.keyType === "HMAC" ? hmacKey.apiKey : ed25519Key.apiKey,
              timestamp: Date.now(),
              ...extra
            })
          ),
        events: () => client.messages.filter((m) => "subscriptionId" in m && "event" in m)
      }
      ws.on("message", (data) => {
        const message = JSON.parse(String(data))
        client.messages.push(message)
        waiting.get(message.id)?.(message)
        waiting.delete(message.id)
      })
      ws.on("close", () => (client.closed = true))
      ws.once("open", () => resume(Effect.succeed(client)))
      ws.once("error", (error) => resume(Effect.fail(error)))
    }),
    (client) => Effect.sync(() => client.ws.terminate())
  )

/** Polls a condition on real I/O, failing after `ms`. */
export const waitFor = (what: string, condition: () => boolean, ms = 5_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!condition()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("5 millis")
    }
  })

/** An order the simulator's BTCUSDT filters take: 0.001 BTC at a reference of 42000 (fixtures' `order` otherwise). */
export const exchangeOrder = (clientOrderId: string, overrides: Partial<Order> = {}): Order =>
  order(clientOrderId, { quantity: BigDecimal.unsafeFromString("0.001"), price: BigDecimal.unsafeFromString("42000"), ...overrides })
