/**
 * The broker an engine trades through, from its `EngineBroker` choice: the
 * paper broker, or Binance (any URL, or the embedded simulator with a key
 * made for the run), always behind the circuit breaker and the journal's
 * once-only check.
 */
import { randomBytes } from "node:crypto"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Socket from "@effect/platform/Socket"
import { Effect, Layer, Redacted } from "effect"
import { makeRunTag } from "../../../domain/Order.js"
import type { Broker } from "../../../services/Broker.js"
import type { ExchangeAccount } from "../../../services/ExchangeAccount.js"
import * as BinanceBroker from "../../execution/BinanceBroker.js"
import { ed25519Signer, hmacSigner, type Signer } from "../../execution/internal/binance/signing.js"
import { SimulatedExchange, type SimulatorKey } from "../../market/SimulatedExchange.js"
import type { BinanceBrokerChoice, BinanceKey, EngineBroker } from "../BrokerChoice.js"
import type { BrokerConfigError } from "../../execution/PaperBroker.js"
import { EngineConfigError } from "./StartupChecks.js"

/** A key of one run's embedded exchange: the whole signed path runs offline with nothing to configure. */
export const makeRunKey = (): SimulatorKey & { readonly type: "HMAC" } => ({
  apiKey: `trading-bus-run-${makeRunTag(16)}`,
  type: "HMAC",
  secret: randomBytes(32).toString("hex")
})

const signerOf = (key: BinanceKey): Effect.Effect<Signer, EngineConfigError> =>
  (key._tag === "Hmac" ? hmacSigner(key.secret) : ed25519Signer(key.privateKeyPem)).pipe(
    Effect.mapError((error) =>
      new EngineConfigError({
        option: "broker.key",
        value: key._tag,
        reason: `the ${key._tag === "Hmac" ? "HMAC secret" : "Ed25519 private key"} cannot sign: ${error.message}`
      })
    )
  )

type BinanceLayer = Layer.Layer<
  Broker | ExchangeAccount,
  BinanceBroker.BinanceBrokerStartError | EngineConfigError,
  HttpClient.HttpClient | Socket.WebSocketConstructor
>

/**
 * Binance at the chosen URLs with the chosen key; without URLs, the embedded exchange (`embedded`, the same layer
 * the simulator source runs on) with `runKey`, which that exchange was given.
 */
export const binanceLayer = (
  choice: BinanceBrokerChoice,
  embedded: { readonly exchange: Layer.Layer<SimulatedExchange, unknown>; readonly runKey: SimulatorKey & { type: "HMAC" } } | undefined
): BinanceLayer => {
  const recvWindow = choice.recvWindow ?? 5000
  const timing = choice.timing ?? {}
  if (choice.urls === undefined) {
    if (embedded === undefined) {
      return Layer.fail(new EngineConfigError({
        option: "broker",
        value: "Binance",
        reason: "without urls the broker trades on the embedded simulator, which needs the Simulator source: give urls and a key"
      }))
    }
    const { runKey } = embedded
    return Layer.unwrapEffect(Effect.gen(function*() {
      const exchange = yield* SimulatedExchange
      const signer = yield* hmacSigner(Redacted.make(runKey.secret)).pipe(Effect.orDie)
      return BinanceBroker.layer({ restUrl: exchange.restUrl, wsApiUrl: exchange.wsApiUrl, apiKey: Redacted.make(runKey.apiKey), signer, recvWindow, ...timing })
    })).pipe(Layer.provide(Layer.orDie(embedded.exchange)))
  }
  const { key, urls } = choice
  if (key === undefined) {
    return Layer.fail(new EngineConfigError({ option: "broker.key", value: "missing", reason: `trading on ${urls.restUrl} needs an API key` }))
  }
  return Layer.unwrapEffect(Effect.map(signerOf(key), (signer) =>
    BinanceBroker.layer({ restUrl: urls.restUrl, wsApiUrl: urls.wsApiUrl, apiKey: key.apiKey, signer, recvWindow, ...timing })))
}

/**
 * Who executes: the paper broker, or Binance; with Binance and no URLs, on the embedded exchange, which is then
 * given the run's key (`exchangeWith` builds it for the source too: one layer, built once). `live` says an
 * exchange's account comes along (checked against the positions at start).
 */
export const executionOf = <EX>(
  broker: EngineBroker | undefined,
  exchangeWith: ((keys: ReadonlyArray<SimulatorKey>) => Layer.Layer<SimulatedExchange, EX>) | undefined,
  paper: Layer.Layer<Broker, BrokerConfigError>
) => {
  const runKey = broker !== undefined && broker !== "paper" && broker.urls === undefined ? makeRunKey() : undefined
  const exchange = exchangeWith?.(runKey === undefined ? [] : [runKey])
  const binance = broker === undefined || broker === "paper"
    ? undefined
    : binanceLayer(broker, exchange === undefined || runKey === undefined ? undefined : { exchange, runKey })
  // the account an exchange's broker also provides is found by `BalanceCheck` in the context, untyped here
  const executor: Layer.Layer<
    Broker,
    BrokerConfigError | EngineConfigError | BinanceBroker.BinanceBrokerStartError,
    HttpClient.HttpClient | Socket.WebSocketConstructor
  > = binance ?? paper
  return { exchange, executor, live: binance !== undefined }
}
