import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { generateKeyPairSync } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { readBinanceKey } from "../../src/programs/BinanceKeys.js"

const dir = mkdtempSync(join(tmpdir(), "binance-keys-"))
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
const ed25519Pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString()
const rsaPem = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString()
const pemBody = (pem: string) => pem.split("\n")[1]!

const apiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
const secret = "s3cr3t-value-XYZ"

/** The key read from these variables only, or the one line it is refused with. */
const read = (env: Record<string, string>) =>
  readBinanceKey("https://testnet.binance.vision").pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.either,
    Effect.map((e) => e._tag === "Left" ? { refused: e.left.message } : { key: e.right })
  )

/** Neither the secret, the API key nor a PEM's body in `text`. */
const expectNoSecret = (text: string) => {
  for (const s of [apiKey, secret, pemBody(ed25519Pem), pemBody(rsaPem), "PRIVATE KEY"]) expect(text).not.toContain(s)
}

describe("the Binance key from the environment", () => {
  it.effect("HMAC: BINANCE_API_KEY and BINANCE_API_SECRET, kept Redacted", () =>
    Effect.gen(function*() {
      const { key } = yield* read({ BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: secret })
      expect(key?._tag).toBe("Hmac")
      if (key?._tag !== "Hmac") return
      expect(Redacted.value(key.secret)).toBe(secret)
      expect(Redacted.value(key.apiKey)).toBe(apiKey)
      expectNoSecret(`${String(key.secret)} ${JSON.stringify(key)}`)
    }))

  it.effect("Ed25519: BINANCE_PRIVATE_KEY_FILE read and checked at start, the PEM kept Redacted", () =>
    Effect.gen(function*() {
      const { key } = yield* read({ BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: file("ok.pem", ed25519Pem) })
      expect(key?._tag).toBe("Ed25519")
      if (key?._tag !== "Ed25519") return
      expect(Redacted.value(key.privateKeyPem)).toBe(ed25519Pem)
      expectNoSecret(JSON.stringify(key))
    }))

  it.effect("each refusal names the variable and what is wrong, never a secret's value", () =>
    Effect.gen(function*() {
      const missingPath = join(dir, "missing.pem")
      const rsa = file("rsa.pem", rsaPem)
      const garbage = file("garbage.pem", `${pemBody(ed25519Pem)}\n`)
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ BINANCE_API_SECRET: secret }, `invalid BINANCE_API_KEY: not set: --broker binance on https://testnet.binance.vision needs an API key, with BINANCE_PRIVATE_KEY_FILE (Ed25519 PEM) or BINANCE_API_SECRET (HMAC)`],
        // empty counts as unset
        [{ BINANCE_API_KEY: "", BINANCE_API_SECRET: secret }, `invalid BINANCE_API_KEY: not set: --broker binance on https://testnet.binance.vision needs an API key, with BINANCE_PRIVATE_KEY_FILE (Ed25519 PEM) or BINANCE_API_SECRET (HMAC)`],
        [{ BINANCE_API_KEY: `${apiKey} x`, BINANCE_API_SECRET: secret }, "invalid BINANCE_API_KEY: malformed: it contains spaces, line breaks or control characters"],
        [{ BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: "" }, `invalid BINANCE_PRIVATE_KEY_FILE: not set, nor BINANCE_API_SECRET: --broker binance on https://testnet.binance.vision needs an API key's private key: the path of an Ed25519 PEM file, or the HMAC secret`],
        [{ BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: `${secret}\n` }, "invalid BINANCE_API_SECRET: malformed: it contains spaces, line breaks or control characters"],
        [
          { BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: secret, BINANCE_PRIVATE_KEY_FILE: file("both.pem", ed25519Pem) },
          "invalid BINANCE_API_SECRET: set together with BINANCE_PRIVATE_KEY_FILE: a Binance API key signs with Ed25519 or with HMAC, not both: unset one"
        ],
        [{ BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: missingPath }, `invalid BINANCE_PRIVATE_KEY_FILE ${JSON.stringify(missingPath)}: cannot read it (ENOENT): expected an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)`],
        [{ BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: rsa }, `invalid BINANCE_PRIVATE_KEY_FILE ${JSON.stringify(rsa)}: a rsa key, not ed25519: expected an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)`],
        [{ BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: garbage }, `invalid BINANCE_PRIVATE_KEY_FILE ${JSON.stringify(garbage)}: not a PEM private key: expected an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)`],
        [{ BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: dir }, `invalid BINANCE_PRIVATE_KEY_FILE ${JSON.stringify(dir)}: cannot read it (EISDIR): expected an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)`]
      ]
      for (const [env, line] of cases) {
        const { refused } = yield* read(env)
        expect({ env: Object.keys(env), refused }).toEqual({ env: Object.keys(env), refused: line })
        expectNoSecret(refused ?? "")
      }
    }))
})
