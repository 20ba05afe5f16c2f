/**
 * The key `trading-bus simulate` accepts signed requests with: the one a
 * `trading-bus run --broker binance` pointed at it signs with, read from the
 * same environment variables. The secret and the key file's content never
 * reach a message or a log.
 */
import { Config, type ConfigError, Effect, Option, Redacted } from "effect"
import * as Crypto from "node:crypto"
import { readFile } from "node:fs/promises"
import type { SimulatorKey } from "../../layers/market/SimulatedExchange.js"
import { ConfigurationError } from "../ConfigurationError.js"

export const apiKeyVariable = "BINANCE_API_KEY"
export const secretVariable = "BINANCE_API_SECRET"
export const keyFileVariable = "BINANCE_PRIVATE_KEY_FILE"

/** A variable set to only blanks counts as unset, as for the flags' variables. */
const nonBlank = <A>(config: Config.Config<Option.Option<A>>, text: (a: A) => string) =>
  Config.map(config, Option.filter((a) => text(a).trim() !== ""))

const keyEnv = Config.all({
  apiKey: nonBlank(Config.option(Config.redacted(apiKeyVariable)), Redacted.value),
  secret: nonBlank(Config.option(Config.redacted(secretVariable)), Redacted.value),
  keyFile: nonBlank(Config.option(Config.string(keyFileVariable)), (s) => s)
})

const refuse = (flag: string, value: unknown, reason: string) => Effect.fail(new ConfigurationError({ flag, value, reason }))

/** The Ed25519 public key, as SPKI PEM, of the PKCS#8 PEM private key (or the public key) in `path`. */
const publicKeyOf = (path: string): Effect.Effect<string, ConfigurationError> =>
  Effect.gen(function*() {
    const pem = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (cause) =>
        new ConfigurationError({
          flag: keyFileVariable,
          value: path,
          reason: `cannot read it (${(cause as NodeJS.ErrnoException).code ?? "unreadable"}): give the path of an Ed25519 private key in PKCS#8 PEM`
        })
    })
    let key: Crypto.KeyObject
    try {
      key = Crypto.createPublicKey({ key: pem, format: "pem" })
    } catch {
      // the parser's message may quote the file: say only what was expected
      return yield* refuse(keyFileVariable, path, "expected an Ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)")
    }
    if (key.asymmetricKeyType !== "ed25519") {
      return yield* refuse(keyFileVariable, path, `holds a key of type ${key.asymmetricKeyType ?? "unknown"}: expected an Ed25519 key in PKCS#8 PEM`)
    }
    return key.export({ format: "pem", type: "spki" }).toString()
  })

/** What the account accepts, as the start line tells it (the API key itself is not shown). */
export interface SimulatorKeys {
  readonly keys: ReadonlyArray<SimulatorKey>
  /** "HMAC" or "Ed25519"; undefined without a key (market data only). */
  readonly type?: SimulatorKey["type"]
}

/**
 * `BINANCE_API_KEY` with `BINANCE_API_SECRET` (HMAC) or `BINANCE_PRIVATE_KEY_FILE` (Ed25519); none of them: no key.
 * A half-given or doubly-given key is refused, naming the variable to fix.
 */
export const simulatorKeys: Effect.Effect<SimulatorKeys, ConfigurationError | ConfigError.ConfigError> = Effect
  .gen(function*() {
    const env = yield* keyEnv
    if (Option.isNone(env.apiKey)) {
      if (Option.isSome(env.secret)) {
        return yield* refuse(apiKeyVariable, undefined, `not set: ${secretVariable} is set, and needs the API key it belongs to`)
      }
      if (Option.isSome(env.keyFile)) {
        return yield* refuse(apiKeyVariable, undefined, `not set: ${keyFileVariable} is set, and needs the API key it belongs to`)
      }
      return { keys: [] }
    }
    const apiKey = Redacted.value(env.apiKey.value).trim()
    if (Option.isSome(env.secret) && Option.isSome(env.keyFile)) {
      return yield* refuse(
        secretVariable,
        undefined,
        `set together with ${keyFileVariable}: give one, ${secretVariable} for an HMAC key or ${keyFileVariable} for an Ed25519 key`
      )
    }
    if (Option.isSome(env.secret)) {
      return { keys: [{ apiKey, type: "HMAC", secret: Redacted.value(env.secret.value) }], type: "HMAC" }
    }
    if (Option.isSome(env.keyFile)) {
      const publicKeyPem = yield* publicKeyOf(env.keyFile.value.trim())
      return { keys: [{ apiKey, type: "Ed25519", publicKeyPem }], type: "Ed25519" }
    }
    return yield* refuse(
      apiKeyVariable,
      undefined,
      `set without its key: set ${secretVariable} (HMAC) or ${keyFileVariable} (an Ed25519 private key in PKCS#8 PEM) too`
    )
  })
