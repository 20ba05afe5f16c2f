/**
 * The Binance API key of `trading-bus run --broker binance`, from the
 * environment through Effect's `Config` (secrets as `Redacted`, so that a log
 * line or an error shows `<redacted>`): `BINANCE_API_KEY` with exactly one of
 * `BINANCE_PRIVATE_KEY_FILE` (Ed25519) or `BINANCE_API_SECRET` (HMAC).
 *
 * Every refusal names the variable and what is wrong, never its value: only
 * the key file's path is shown, which is not a secret.
 */
import { Config, Effect, Option, Redacted } from "effect"
import { readFile } from "node:fs/promises"
import type { BinanceKey } from "../layers/engine/BrokerChoice.js"
import { ed25519Signer, hmacSigner } from "../layers/execution/internal/binance/signing.js"
import { ConfigurationError } from "./ConfigurationError.js"

export const apiKeyVariable = "BINANCE_API_KEY"
export const privateKeyFileVariable = "BINANCE_PRIVATE_KEY_FILE"
export const apiSecretVariable = "BINANCE_API_SECRET"

const refuse = (variable: string, reason: string, value?: string) =>
  Effect.fail(new ConfigurationError({ flag: variable, value, reason }))

// a header value and a signing key: no spaces, newlines or control characters (a pasted key's usual damage)
const printable = /^[\x21-\x7e]+$/

/** A variable, unset when empty (as the flags' variables); a read error never carries the value. */
const read = <A>(variable: string, config: Config.Config<A>, text: (a: A) => string) =>
  Config.option(config).pipe(
    Effect.map(Option.filter((a) => text(a).length > 0)),
    Effect.mapError(() => new ConfigurationError({ flag: variable, value: undefined, reason: "cannot be read" }))
  )

const secret = (variable: string) => read(variable, Config.redacted(variable), Redacted.value)

const ed25519Hint = "expected an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)"

/** The PEM at `path`, checked by the signer that will use it: a malformed key fails now, not at the first order. */
const ed25519Key = (apiKey: Redacted.Redacted<string>, path: string) =>
  Effect.gen(function*() {
    const pem = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (cause) => (cause as NodeJS.ErrnoException).code ?? "unreadable"
    }).pipe(Effect.catchAll((code) => refuse(privateKeyFileVariable, `cannot read it (${code}): ${ed25519Hint}`, path)))
    const privateKeyPem = Redacted.make(pem)
    yield* ed25519Signer(privateKeyPem).pipe(
      // the signer's reason never quotes the key
      Effect.catchAll((e) => refuse(privateKeyFileVariable, `${e.reason}: ${ed25519Hint}`, path))
    )
    return { _tag: "Ed25519", apiKey, privateKeyPem } satisfies BinanceKey
  })

const hmacKey = (apiKey: Redacted.Redacted<string>, secret: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    if (!printable.test(Redacted.value(secret))) {
      return yield* refuse(apiSecretVariable, "malformed: it contains spaces, line breaks or control characters")
    }
    yield* hmacSigner(secret).pipe(Effect.catchAll((e) => refuse(apiSecretVariable, e.reason)))
    return { _tag: "Hmac", apiKey, secret } satisfies BinanceKey
  })

/**
 * The key for trading on `venue` (shown in the messages, such as
 * "https://testnet.binance.vision"). Both a key file and a secret is refused
 * rather than one preferred: a Binance API key is either Ed25519 or HMAC, so
 * one of the two is a mistake the user should see.
 */
export const readBinanceKey = (venue: string): Effect.Effect<BinanceKey, ConfigurationError> =>
  Effect.gen(function*() {
    const needs = `--broker binance on ${venue} needs an API key`
    const apiKey = yield* secret(apiKeyVariable)
    if (Option.isNone(apiKey)) {
      return yield* refuse(
        apiKeyVariable,
        `not set: ${needs}, with ${privateKeyFileVariable} (Ed25519 PEM) or ${apiSecretVariable} (HMAC)`
      )
    }
    if (!printable.test(Redacted.value(apiKey.value))) {
      return yield* refuse(apiKeyVariable, "malformed: it contains spaces, line breaks or control characters")
    }
    const file = yield* read(privateKeyFileVariable, Config.string(privateKeyFileVariable), (s) => s.trim())
    const hmac = yield* secret(apiSecretVariable)
    if (Option.isSome(file) && Option.isSome(hmac)) {
      return yield* refuse(
        apiSecretVariable,
        `set together with ${privateKeyFileVariable}: a Binance API key signs with Ed25519 or with HMAC, not both: unset one`
      )
    }
    if (Option.isSome(file)) return yield* ed25519Key(apiKey.value, file.value.trim())
    if (Option.isSome(hmac)) return yield* hmacKey(apiKey.value, hmac.value)
    return yield* refuse(
      privateKeyFileVariable,
      `not set, nor ${apiSecretVariable}: ${needs}'s private key: the path of an Ed25519 PEM file, or the HMAC secret`
    )
  })
