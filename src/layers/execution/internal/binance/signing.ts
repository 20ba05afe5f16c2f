/**
 * Binance request signing: HMAC-SHA256 (hex) and Ed25519 (base64) over the
 * exact payload sent. REST signs the query string as sent (plus the body);
 * the WebSocket API signs its params sorted by name, unencoded.
 */
import * as Crypto from "node:crypto"
import { Data, Effect, Redacted } from "effect"

export type KeyType = "HMAC" | "Ed25519"

/** Signs a payload; the key itself stays inside. */
export interface Signer {
  readonly keyType: KeyType
  readonly sign: (payload: string) => string
}

/** A key that cannot sign: malformed PEM, wrong key type, empty secret. Never carries the key. */
export class SigningKeyError extends Data.TaggedError("SigningKeyError")<{
  readonly keyType: KeyType
  readonly reason: string
}> {
  override get message() {
    return `invalid ${this.keyType} key: ${this.reason}`
  }
}

/** HMAC-SHA256 with the API secret, as a lower-case hex string. */
export const hmacSigner = (secret: Redacted.Redacted<string>): Effect.Effect<Signer, SigningKeyError> =>
  Effect.suspend(() => {
    const key = Redacted.value(secret)
    if (key.length === 0) return Effect.fail(new SigningKeyError({ keyType: "HMAC", reason: "the secret is empty" }))
    return Effect.succeed({
      keyType: "HMAC",
      sign: (payload) => Crypto.createHmac("sha256", key).update(payload, "utf8").digest("hex")
    })
  })

/** Ed25519 with a PKCS#8 PEM private key, as base64. */
export const ed25519Signer = (pem: Redacted.Redacted<string>): Effect.Effect<Signer, SigningKeyError> =>
  Effect.suspend(() => {
    let key: Crypto.KeyObject
    try {
      key = Crypto.createPrivateKey({ key: Redacted.value(pem), format: "pem" })
    } catch {
      // the parser's message may quote the key: say only what kind of failure it was
      return Effect.fail(new SigningKeyError({ keyType: "Ed25519", reason: "not a PEM private key" }))
    }
    if (key.asymmetricKeyType !== "ed25519") {
      return Effect.fail(
        new SigningKeyError({ keyType: "Ed25519", reason: `a ${key.asymmetricKeyType ?? "unknown"} key, not ed25519` })
      )
    }
    return Effect.succeed({
      keyType: "Ed25519",
      sign: (payload) => Crypto.sign(null, Buffer.from(payload, "utf8"), key).toString("base64")
    })
  })

/** Verifies a signature made by a key of `keyType`: an HMAC secret, or an Ed25519 public (or private) key in PEM. */
export const verify = (keyType: KeyType, key: string, payload: string, signature: string): boolean => {
  if (keyType === "HMAC") {
    const expected = Buffer.from(Crypto.createHmac("sha256", key).update(payload, "utf8").digest("hex"))
    // HMAC signatures are case-insensitive, as Binance documents
    const given = Buffer.from(signature.toLowerCase())
    return given.length === expected.length && Crypto.timingSafeEqual(given, expected)
  }
  try {
    const signatureBytes = Buffer.from(signature, "base64")
    if (signatureBytes.length !== 64) return false
    return Crypto.verify(null, Buffer.from(payload, "utf8"), Crypto.createPublicKey(key), signatureBytes)
  } catch {
    return false
  }
}

/** Percent-encodes a parameter value: non-ASCII and reserved characters, as Binance's examples do. */
export const encodeValue = (value: string): string => encodeURIComponent(value)

/** `name=value` pairs in the given order, values percent-encoded: the REST payload and the query string sent. */
export const queryString = (params: ReadonlyArray<readonly [string, string]>): string =>
  params.map(([name, value]) => `${name}=${encodeValue(value)}`).join("&")

/** The query string with its signature appended, ready to send. */
export const signedQuery = (signer: Signer, params: ReadonlyArray<readonly [string, string]>): string => {
  const query = queryString(params)
  return `${query}&signature=${encodeValue(signer.sign(query))}`
}

/** The WebSocket API payload: every param but `signature`, sorted by name, `name=value` unencoded. */
export const wsPayload = (params: Readonly<Record<string, string | number | boolean>>): string =>
  Object.keys(params)
    .filter((name) => name !== "signature")
    .sort()
    .map((name) => `${name}=${String(params[name])}`)
    .join("&")

/** WebSocket API params with their signature added. */
export const signWsParams = <P extends Readonly<Record<string, string | number | boolean>>>(
  signer: Signer,
  params: P
): P & { readonly signature: string } => ({ ...params, signature: signer.sign(wsPayload(params)) })

/** An Ed25519 signer from a PEM file (`BINANCE_PRIVATE_KEY_FILE`). */
export const ed25519SignerFromFile = (path: string): Effect.Effect<Signer, SigningKeyError> =>
  Effect.tryPromise({
    try: () => import("node:fs/promises").then((fs) => fs.readFile(path, "utf8")),
    catch: (cause) =>
      new SigningKeyError({
        keyType: "Ed25519",
        reason: `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? "unreadable"}`
      })
  }).pipe(Effect.flatMap((pem) => ed25519Signer(Redacted.make(pem))))
