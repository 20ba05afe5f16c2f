import { NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, LogLevel, Redacted } from "effect"
import * as Crypto from "node:crypto"
import { BinanceBrokerStartError, layer as binanceBroker } from "../../../src/layers/execution/BinanceBroker.js"
import { ed25519Signer, hmacSigner, type Signer } from "../../../src/layers/execution/internal/binance/signing.js"
import { ed25519, ed25519Key, hmac, hmacKey, startExchange } from "../../support/simulatorTrading.js"

/** Builds a broker on the exchange with the given key and signer, and closes it again. */
const start = (restUrl: string, wsApiUrl: string, apiKey: string, signer: Signer) =>
  Layer.build(
    binanceBroker({ restUrl, wsApiUrl, apiKey: Redacted.make(apiKey), signer, requestTimeout: "5 seconds" }).pipe(
      Layer.provide([NodeHttpClient.layerUndici, NodeSocket.layerWebSocketConstructor])
    )
  ).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.None))

// the test runs on the real clock: the simulator checks each request's timestamp against it
describe("BinanceBroker with a key the exchange refuses", () => {
  it.live("the right API key with the wrong HMAC secret: the start fails with -1022, nothing placed", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const wrong = yield* Effect.orDie(hmacSigner(Redacted.make(`${hmacKey.secret}-not`)))
      const error = yield* Effect.flip(start(exchange.restUrl, exchange.wsApiUrl, hmacKey.apiKey, wrong))
      expect(error).toBeInstanceOf(BinanceBrokerStartError)
      expect(error.reason).toBe("GET /api/v3/account: -1022 Signature for this request is not valid.")
      expect(error.message).not.toContain(hmacKey.secret)
      expect(yield* exchange.control.orders).toEqual([])
    }).pipe(Effect.scoped))

  it.live("the right API key with another Ed25519 private key: the start fails with -1022, nothing placed", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      const other = Crypto.generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString()
      const wrong = yield* Effect.orDie(ed25519Signer(Redacted.make(other)))
      const error = yield* Effect.flip(start(exchange.restUrl, exchange.wsApiUrl, ed25519Key.apiKey, wrong))
      expect(error).toBeInstanceOf(BinanceBrokerStartError)
      expect(error.reason).toMatch(/-1022/)
      expect(yield* exchange.control.orders).toEqual([])
    }).pipe(Effect.scoped))

  it.live("the same exchange starts a broker with the right keys (the refusals above are the keys', not the setup's)", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange()
      expect(Exit.isSuccess(yield* Effect.exit(start(exchange.restUrl, exchange.wsApiUrl, hmacKey.apiKey, yield* hmac)))).toBe(true)
      expect(Exit.isSuccess(yield* Effect.exit(start(exchange.restUrl, exchange.wsApiUrl, ed25519Key.apiKey, yield* ed25519))))
        .toBe(true)
    }).pipe(Effect.scoped))
})
