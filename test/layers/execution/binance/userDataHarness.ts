/** Starting a user-data stream in tests, and a fake WebSocket API to misbehave with. */
import { NodeSocket } from "@effect/platform-node"
import { expect } from "@effect/vitest"
import { BigDecimal, Effect, Logger, LogLevel, Redacted } from "effect"
import { WebSocketServer } from "ws"
import type { ExecutionReport } from "../../../../src/layers/execution/internal/binance/ExecutionReport.js"
import type { Signer } from "../../../../src/layers/execution/internal/binance/signing.js"
import {
  makeUserDataStream,
  type UserDataStreamOptions
} from "../../../../src/layers/execution/internal/binance/UserDataStream.js"
import { ed25519Key, hmacKey } from "../../../support/simulatorTrading.js"

export const dec = BigDecimal.unsafeFromString
/** Exact decimal equality, whatever the scale. */
export const same = (a: BigDecimal.BigDecimal | undefined, b: string) =>
  expect(a !== undefined && BigDecimal.equals(a, dec(b)), `${a === undefined ? "undefined" : BigDecimal.format(a)} = ${b}`)
    .toBe(true)

/** A stream on `options`, recording what it hands over. */
export const start = (
  options: Omit<UserDataStreamOptions, "apiKey"> & { readonly apiKey: string },
  /** Each handler call takes this long: calls must still come one at a time, in order. */
  handlerMillis = 0
) =>
  Effect.gen(function*() {
    const reports: Array<ExecutionReport> = []
    const subscribed: Array<boolean> = []
    const handling = { now: 0, most: 0 }
    const handler = (record: () => void) =>
      Effect.gen(function*() {
        handling.most = Math.max(handling.most, ++handling.now)
        if (handlerMillis > 0) yield* Effect.sleep(handlerMillis)
        record()
        handling.now--
      })
    const stream = yield* makeUserDataStream({ ...options, apiKey: Redacted.make(options.apiKey) }, {
      onReport: (report) => handler(() => reports.push(report)),
      onSubscribed: ({ resumed }) => handler(() => subscribed.push(resumed))
    })
    return { stream, reports, subscribed, handling }
  }).pipe(
    Effect.provide(NodeSocket.layerWebSocketConstructor),
    Logger.withMinimumLogLevel(LogLevel.None)
  )

export const withKey = (signer: Signer) => ({ signer, apiKey: signer.keyType === "HMAC" ? hmacKey.apiKey : ed25519Key.apiKey })

/**
 * A WebSocket API on 127.0.0.1 that answers each request as `answer` says (no answer: `undefined`),
 * `connection` counting from 0; it records when each connection came.
 */
export const fakeApi = (
  answer: (
    request: { readonly id: string; readonly method: string },
    connection: number,
    /** Closes this connection abruptly once the answer is sent. */
    drop: () => void
  ) => object | undefined
) =>
  Effect.gen(function*() {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
    yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
    yield* Effect.async<void>((resume) => void server.once("listening", () => resume(Effect.void)))
    const connections: Array<number> = []
    server.on("connection", (ws) => {
      const connection = connections.push(Date.now()) - 1
      ws.on("message", (data) => {
        const request = JSON.parse(String(data))
        let dropping = false
        const reply = answer(request, connection, () => (dropping = true))
        if (reply !== undefined) ws.send(JSON.stringify({ id: request.id, ...reply }))
        if (dropping) setTimeout(() => ws.terminate(), 5)
      })
    })
    return {
      url: `ws://127.0.0.1:${(server.address() as { port: number }).port}/ws-api/v3`,
      connections,
      dropAll: () => server.clients.forEach((ws) => ws.terminate())
    }
  })

