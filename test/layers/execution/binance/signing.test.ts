import { describe, expect, it } from "@effect/vitest"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, Redacted } from "effect"
import {
  ed25519Signer,
  ed25519SignerFromFile,
  hmacSigner,
  queryString,
  signedQuery,
  signWsParams,
  verify,
  wsPayload
} from "../../../../src/layers/execution/internal/binance/signing.js"

// The example key of Binance's documentation (rest-api.md, web-socket-api.md: "SIGNED request example (HMAC)").
const docSecret = Redacted.make("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
const docApiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"

// RFC 8032, section 7.1, TEST 1: the seed, its public key and the signature of the empty message.
const rfcSeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
const rfcSignature =
  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
const pkcs8Prefix = "302e020100300506032b657004220420"
const rfcPem = Crypto.createPrivateKey({ key: Buffer.from(pkcs8Prefix + rfcSeed, "hex"), format: "der", type: "pkcs8" })
  .export({ format: "pem", type: "pkcs8" })
  .toString()

const params = (symbol: string): ReadonlyArray<readonly [string, string]> => [
  ["symbol", symbol],
  ["side", "BUY"],
  ["type", "LIMIT"],
  ["timeInForce", "GTC"],
  ["quantity", "1"],
  ["price", "0.1"],
  ["recvWindow", "5000"],
  ["timestamp", "1499827319559"]
]

describe("signing", () => {
  it.effect("HMAC: the REST examples of Binance's documentation, ASCII and non-ASCII symbols", () =>
    Effect.gen(function*() {
      const signer = yield* hmacSigner(docSecret)
      expect(queryString(params("LTCBTC"))).toBe(
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
      )
      expect(signedQuery(signer, params("LTCBTC"))).toBe(
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559" +
          "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
      )
      const unicode = queryString(params("１２３４５６"))
      expect(unicode.startsWith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY")).toBe(true)
      expect(signer.sign(unicode)).toBe("e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3")
    }))

  it.effect("HMAC: the WebSocket API examples, params sorted by name and unencoded", () =>
    Effect.gen(function*() {
      const signer = yield* hmacSigner(docSecret)
      const ascii = {
        symbol: "BTCUSDT",
        side: "SELL",
        type: "LIMIT",
        timeInForce: "GTC",
        quantity: "0.01000000",
        price: "52000.00",
        recvWindow: 100,
        timestamp: 1645423376532,
        apiKey: docApiKey
      }
      expect(wsPayload(ascii)).toBe(
        `apiKey=${docApiKey}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT`
      )
      expect(signWsParams(signer, ascii).signature).toBe(
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
      )
      const unicode = { ...ascii, symbol: "１２３４５６", side: "BUY", quantity: "1.00000000", price: "0.10000000", recvWindow: 5000 }
      expect(signWsParams(signer, unicode).signature).toBe(
        "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"
      )
    }))

  it.effect("HMAC verification is case-insensitive and rejects another payload or secret", () =>
    Effect.gen(function*() {
      const signer = yield* hmacSigner(docSecret)
      const payload = queryString(params("LTCBTC"))
      const signature = signer.sign(payload)
      const secret = Redacted.value(docSecret)
      expect(verify("HMAC", secret, payload, signature)).toBe(true)
      expect(verify("HMAC", secret, payload, signature.toUpperCase())).toBe(true)
      expect(verify("HMAC", secret, payload + "&x=1", signature)).toBe(false)
      expect(verify("HMAC", "other", payload, signature)).toBe(false)
      expect(verify("HMAC", secret, payload, "")).toBe(false)
    }))

  it.effect("Ed25519: RFC 8032 test 1 from a PKCS#8 PEM, base64 and case-sensitive", () =>
    Effect.gen(function*() {
      const signer = yield* ed25519Signer(Redacted.make(rfcPem))
      expect(signer.keyType).toBe("Ed25519")
      const signature = signer.sign("")
      expect(Buffer.from(signature, "base64").toString("hex")).toBe(rfcSignature)
      const publicPem = Crypto.createPublicKey(rfcPem).export({ format: "pem", type: "spki" }).toString()
      const payload = queryString(params("BTCUSDT"))
      const signed = signer.sign(payload)
      expect(verify("Ed25519", publicPem, payload, signed)).toBe(true)
      expect(verify("Ed25519", publicPem, payload + "0", signed)).toBe(false)
      const flipped = signed.replace(/[a-z]/, (c) => c.toUpperCase())
      expect(verify("Ed25519", publicPem, payload, flipped)).toBe(false)
      expect(verify("Ed25519", publicPem, payload, "not base64!")).toBe(false)
      // REST sends the base64 percent-encoded
      expect(signedQuery(signer, params("BTCUSDT")).endsWith(`&signature=${encodeURIComponent(signed)}`)).toBe(true)
    }))

  it.effect("a malformed or wrong key fails as SigningKeyError without quoting the key", () =>
    Effect.gen(function*() {
      const garbage = yield* Effect.flip(ed25519Signer(Redacted.make("-----BEGIN PRIVATE KEY-----\nsecretstuff\n")))
      expect(garbage._tag).toBe("SigningKeyError")
      expect(garbage.message).not.toContain("secretstuff")
      const rsa = Crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
        format: "pem",
        type: "pkcs8"
      }).toString()
      expect((yield* Effect.flip(ed25519Signer(Redacted.make(rsa)))).reason).toContain("rsa")
      expect((yield* Effect.flip(hmacSigner(Redacted.make("")))).keyType).toBe("HMAC")
    }))

  it.live("reads the Ed25519 key from a PEM file, and names a missing file", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "signing-"))
      const file = Path.join(dir, "key.pem")
      Fs.writeFileSync(file, rfcPem)
      const signer = yield* ed25519SignerFromFile(file)
      expect(Buffer.from(signer.sign(""), "base64").toString("hex")).toBe(rfcSignature)
      const missing = yield* Effect.flip(ed25519SignerFromFile(Path.join(dir, "none.pem")))
      expect(missing.reason).toContain("ENOENT")
      Fs.rmSync(dir, { recursive: true })
    }))
})
