import { describe, expect, it } from "vitest"
import { NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { BigDecimal, ConfigProvider, Context, Effect, Either, Layer, Logger, LogLevel, Redacted } from "effect"
import * as Crypto from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { layer as binanceBroker } from "../../src/layers/execution/BinanceBroker.js"
import { Broker } from "../../src/services/Broker.js"
import { ed25519Signer, hmacSigner, type Signer } from "../../src/layers/execution/internal/binance/signing.js"
import { simulatorKeys } from "../../src/programs/internal/SimulatorKeys.js"
import { runCli, startCli } from "../support/cli.js"
import { ed25519Key, exchangeOrder, signed } from "../support/simulatorTrading.js"

const apiKey = "simulate-test-key"
const secret = "simulate-test-secret-never-printed"

/** `trading-bus simulate --port 0 <args>` with `env`, once its start line is out: the line and its REST URL. */
const simulate = async (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const cli = startCli(["simulate", "--port", "0", "--speed", "50", ...args], env)
  await cli.waitFor("simulated exchange: ws", 60_000)
  const line = (await cli.output()).stdout.split("\n").find((l) => l.startsWith("simulated exchange: "))!
  const restUrl = /, rest (http:\/\/\S+) /.exec(line)![1]!
  const wsApiUrl = /, ws-api (ws:\/\/\S+);/.exec(line)![1]!
  const stop = async () => {
    cli.child.kill("SIGINT")
    return cli.finished
  }
  return { line, restUrl, wsApiUrl, stop }
}

const account = (restUrl: string, signer: Signer, key = apiKey) =>
  Effect.runPromise(signed(restUrl, "GET", "/api/v3/account", [], { signer, apiKey: key }))

const hmac = (s: string) => Effect.runPromise(hmacSigner(Redacted.make(s)))

describe("trading-bus simulate with the user's key", () => {
  it("trades for BINANCE_API_KEY with BINANCE_API_SECRET: signed requests pass, another secret is -1022", async () => {
    const sim = await simulate(["--balances", "USDT=100000,BTC=0.5"], { BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: secret })
    try {
      expect(sim.line).toContain("ws-api ws://127.0.0.1:")
      expect(sim.line).toContain("/ws-api/v3")
      expect(sim.line).toContain("trading with BINANCE_API_KEY's HMAC key, balances BTC=0.5,USDT=100000")
      expect(sim.line).toContain("faults: none")
      const ok = await account(sim.restUrl, await hmac(secret))
      expect(ok.status).toBe(200)
      const balances = Object.fromEntries(
        (ok.body.balances as Array<{ asset: string; free: string }>).map((b) => [b.asset, b.free])
      )
      expect(balances).toMatchObject({ USDT: "100000.00000000", BTC: "0.50000000" })
      const refused = await account(sim.restUrl, await hmac(`${secret}-other`))
      expect(refused.status).toBe(400)
      expect(refused.body.code).toBe(-1022)
    } finally {
      const { stderr, stdout } = await sim.stop()
      // neither the secret nor the key is ever printed
      expect(stdout + stderr).not.toContain(secret)
      expect(stdout + stderr).not.toContain(apiKey)
    }
  }, 120_000)

  it("--rate-limit 1 --retry-after 7: the first signed request is 429 with Retry-After 7, the next passes", async () => {
    const sim = await simulate(["--rate-limit", "1", "--retry-after", "7"], {
      BINANCE_API_KEY: apiKey,
      BINANCE_API_SECRET: secret
    })
    try {
      expect(sim.line).toContain("faults: 429 for 1 request(s), Retry-After 7")
      const signer = await hmac(secret)
      const limited = await account(sim.restUrl, signer)
      expect(limited.status).toBe(429)
      expect(limited.headers.get("retry-after")).toBe("7")
      expect((await account(sim.restUrl, signer)).status).toBe(200)
    } finally {
      await sim.stop()
    }
  }, 120_000)

  it("BinanceBroker trades on it with the same key: a dropped answer (--drop-order-responses 1) costs no second order", async () => {
    const sim = await simulate(["--balances", "USDT=1000,BTC=0.5", "--drop-order-responses", "1"], {
      BINANCE_API_KEY: apiKey,
      BINANCE_API_SECRET: secret
    })
    try {
      expect(sim.line).toContain("faults: drop 1 order response(s)")
      const signer = await hmac(secret)
      const fill = await Effect.runPromise(Effect.gen(function*() {
        const broker = yield* Layer.build(
          binanceBroker({ restUrl: sim.restUrl, wsApiUrl: sim.wsApiUrl, apiKey: Redacted.make(apiKey), signer }).pipe(
            Layer.provide([NodeHttpClient.layerUndici, NodeSocket.layerWebSocketConstructor])
          )
        ).pipe(Effect.map(Context.get(Broker)))
        return yield* broker.submit(exchangeOrder("simulate-e2e-1", { createdAt: Date.now(), updatedAt: Date.now() }))
      }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.None)))
      expect(fill.status).toBe("FILLED")
      expect(BigDecimal.format(fill.quantity)).toBe("0.001")
      // one order's worth of BTC, less the commission taken from it: the order was placed once
      const after = await account(sim.restUrl, signer)
      const btc = (after.body.balances as Array<{ asset: string; free: string }>).find((b) => b.asset === "BTC")
      expect(btc?.free).toBe("0.50099900")
    } finally {
      await sim.stop()
    }
  }, 120_000)

  it("an Ed25519 key: BINANCE_PRIVATE_KEY_FILE's public key verifies the requests its private key signs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "simulate-key-"))
    const file = join(dir, "ed25519.pem")
    writeFileSync(file, ed25519Key.privatePem, { mode: 0o600 })
    const sim = await simulate([], { BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: file })
    try {
      expect(sim.line).toContain("trading with BINANCE_API_KEY's Ed25519 key")
      const signer = await Effect.runPromise(ed25519Signer(Redacted.make(ed25519Key.privatePem)))
      expect((await account(sim.restUrl, signer)).status).toBe(200)
      // an HMAC signature made with anything is not this key's
      expect((await account(sim.restUrl, await hmac(secret))).body.code).toBe(-1022)
    } finally {
      await sim.stop()
    }
  }, 120_000)

  it("a bad variable or flag exits 2 with one line naming it, what was given and what is accepted", async () => {
    const [missingFile, noKey, badStatus] = await Promise.all([
      runCli(["simulate", "--port", "0"], { BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: "/nonexistent/key.pem" }),
      runCli(["simulate", "--port", "0"], { BINANCE_API_SECRET: secret }),
      runCli(["simulate", "--port", "0", "--fail-after-accepting", "1", "--fail-status", "200"])
    ])
    for (const result of [missingFile, noKey, badStatus]) {
      expect(result.code).toBe(2)
      expect(result.stdout).toBe("")
      expect(result.stderr.trim().split("\n")).toHaveLength(1)
      expect(result.stderr).not.toContain(secret)
      expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/)
    }
    expect(missingFile.stderr.trim()).toBe(
      "trading-bus: invalid BINANCE_PRIVATE_KEY_FILE \"/nonexistent/key.pem\": cannot read it (ENOENT): give the path of an Ed25519 private key in PKCS#8 PEM"
    )
    expect(noKey.stderr.trim()).toBe(
      "trading-bus: invalid BINANCE_API_KEY: not set: BINANCE_API_SECRET is set, and needs the API key it belongs to"
    )
    expect(badStatus.stderr.trim()).toBe(
      "trading-bus: invalid --fail-status \"200\": expected a whole number from 500 to 599"
    )
  }, 180_000)
})

/** The keys `simulate` reads from `env`, in this process. */
const keysFrom = (env: Record<string, string>) =>
  Effect.runPromise(Effect.either(Effect.withConfigProvider(simulatorKeys, ConfigProvider.fromMap(new Map(Object.entries(env))))))

const pemFile = (name: string, text: string) => {
  const file = join(mkdtempSync(join(tmpdir(), "simulate-keys-")), name)
  writeFileSync(file, text, { mode: 0o600 })
  return file
}

describe("simulate's key variables", () => {
  it("none set, or set blank: no key, market data only", async () => {
    expect(await keysFrom({})).toEqual(Either.right({ keys: [] }))
    expect(await keysFrom({ BINANCE_API_KEY: " ", BINANCE_API_SECRET: "" })).toEqual(Either.right({ keys: [] }))
  })

  it("an HMAC key, and an Ed25519 key whose public key is derived from the private PEM (a public PEM works too)", async () => {
    expect(await keysFrom({ BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: secret })).toEqual(
      Either.right({ keys: [{ apiKey, type: "HMAC", secret }], type: "HMAC" })
    )
    const derived = { keys: [{ apiKey, type: "Ed25519", publicKeyPem: ed25519Key.publicPem }], type: "Ed25519" }
    const fromPrivate = pemFile("private.pem", ed25519Key.privatePem)
    expect(await keysFrom({ BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: fromPrivate })).toEqual(Either.right(derived))
    const fromPublic = pemFile("public.pem", ed25519Key.publicPem)
    expect(await keysFrom({ BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: fromPublic })).toEqual(Either.right(derived))
  })

  it("refuses a half or double key, an unreadable or non-Ed25519 key file, naming the variable and never the secret", async () => {
    const rsa = Crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" })
    const rsaFile = pemFile("rsa.pem", rsa.toString())
    const garbage = pemFile("garbage.pem", `not a key but a secret: ${secret}`)
    const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
      [{ BINANCE_API_KEY: apiKey }, "invalid BINANCE_API_KEY: set without its key: set BINANCE_API_SECRET (HMAC) or BINANCE_PRIVATE_KEY_FILE (an Ed25519 private key in PKCS#8 PEM) too"],
      [{ BINANCE_PRIVATE_KEY_FILE: rsaFile }, "invalid BINANCE_API_KEY: not set: BINANCE_PRIVATE_KEY_FILE is set, and needs the API key it belongs to"],
      [
        { BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: secret, BINANCE_PRIVATE_KEY_FILE: rsaFile },
        "invalid BINANCE_API_SECRET: set together with BINANCE_PRIVATE_KEY_FILE: give one, BINANCE_API_SECRET for an HMAC key or BINANCE_PRIVATE_KEY_FILE for an Ed25519 key"
      ],
      [
        { BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: rsaFile },
        `invalid BINANCE_PRIVATE_KEY_FILE ${JSON.stringify(rsaFile)}: holds a key of type rsa: expected an Ed25519 key in PKCS#8 PEM`
      ],
      [
        { BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: garbage },
        `invalid BINANCE_PRIVATE_KEY_FILE ${JSON.stringify(garbage)}: expected an Ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)`
      ]
    ]
    for (const [env, message] of cases) {
      const result = await keysFrom(env)
      if (Either.isRight(result)) throw new Error(`${JSON.stringify(Object.keys(env))} was accepted`)
      expect(result.left.message).toBe(message)
      expect(result.left.message).not.toContain(secret)
    }
  })
})
