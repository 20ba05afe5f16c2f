import { generateKeyPairSync } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"

const dir = mkdtempSync(join(tmpdir(), "trading-bus-broker-"))
const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString()
const pemFile = join(dir, "ed25519.pem")
writeFileSync(pemFile, pem)
const brokenPemFile = join(dir, "broken.pem")
writeFileSync(brokenPemFile, pem.replace("PRIVATE KEY-----\n", "PRIVATE KEY-----\nAAAA"))

const apiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
const secret = "s3cr3t-value-XYZ"
const pemBody = pem.split("\n")[1]!

// the developer's own keys never reach these runs: empty counts as unset
const noKeys = { BINANCE_API_KEY: "", BINANCE_API_SECRET: "", BINANCE_PRIVATE_KEY_FILE: "" }

const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>, string]> = [
  [
    ["--broker", "binance", "--source", "binance"],
    { BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: secret },
    `trading-bus: invalid --broker "binance": it would trade real money on https://api.binance.com (Binance's production exchange): add --live to mean it, or --testnet (or --rest-url and --ws-api-url) for another exchange`
  ],
  [
    ["--broker", "binance", "--testnet"],
    {},
    "trading-bus: invalid BINANCE_API_KEY: not set: --broker binance on https://testnet.binance.vision needs an API key, with BINANCE_PRIVATE_KEY_FILE (Ed25519 PEM) or BINANCE_API_SECRET (HMAC)"
  ],
  [
    ["--broker", "binance", "--testnet"],
    { BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: brokenPemFile },
    `trading-bus: invalid BINANCE_PRIVATE_KEY_FILE ${JSON.stringify(brokenPemFile)}: not a PEM private key: expected an Ed25519 private key in PKCS#8 PEM (openssl genpkey -algorithm ed25519)`
  ],
  [
    ["--broker", "binance", "--testnet"],
    { BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: pemFile, BINANCE_API_SECRET: secret },
    "trading-bus: invalid BINANCE_API_SECRET: set together with BINANCE_PRIVATE_KEY_FILE: a Binance API key signs with Ed25519 or with HMAC, not both: unset one"
  ],
  [
    ["--broker", "binance", "--rest-url", "ftp://user:pw@host"],
    {},
    `trading-bus: invalid --rest-url "ftp://***@host": expected an http(s) URL such as https://testnet.binance.vision`
  ],
  [
    ["--testnet", "--source", "sim"],
    {},
    "trading-bus: invalid --testnet true: the embedded simulator (--source sim) has no testnet: drop --testnet, or use --source binance for the testnet's prices"
  ],
  [["--broker", "binance", "--recv-window", "0"], {}, `trading-bus: invalid --recv-window "0": expected a whole number from 1 to 60000`]
]

/** Neither the API key, the secret nor the PEM's body anywhere in `text`. */
const expectNoSecret = (text: string) => {
  expect(text).not.toContain(apiKey)
  expect(text).not.toContain(secret)
  expect(text).not.toContain(pemBody)
  expect(text).not.toContain("BEGIN PRIVATE KEY")
}

describe("trading-bus run --broker binance: refusals and secrets", () => {
  it("refuses a bad venue or key with one line naming the flag or variable, exit 2, no secret shown", async () => {
    const results = await Promise.all(cases.map(([args, env]) => runCli(["run", "--duration", "1s", ...args], { ...noKeys, ...env })))
    results.forEach((result, i) => {
      const [args, , line] = cases[i]!
      expect({ args, stderr: result.stderr.trim(), code: result.code }).toEqual({ args, stderr: line, code: 2 })
      expect(result.stderr).not.toMatch(/^\s+at /m)
      expectNoSecret(result.stdout + result.stderr)
    })
  }, 180_000)

  it("a run with keys (HMAC, Ed25519) at debug level, pretty and JSON logs, never prints them", async () => {
    const port = await closedPort() // offline: every connection is refused
    const urls = ["--rest-url", `http://127.0.0.1:${port}/api`, "--ws-api-url", `ws://127.0.0.1:${port}/ws-api/v3`, "--ws-url", `ws://127.0.0.1:${port}`]
    const runs = await Promise.all([
      runCli(
        ["run", "--broker", "binance", "--testnet", ...urls, "--duration", "1s", "--log-level", "debug"],
        { ...noKeys, BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: secret }
      ),
      runCli(
        ["run", "--broker", "binance", "--testnet", ...urls, "--duration", "1s", "--log-level", "debug", "--log-format", "json"],
        { ...noKeys, BINANCE_API_KEY: apiKey, BINANCE_PRIVATE_KEY_FILE: pemFile }
      )
    ])
    for (const [i, run] of runs.entries()) {
      const output = run.stdout + run.stderr
      expect(output).not.toContain("invalid BINANCE") // the keys were accepted...
      expect(output).toContain("run: market data and broker") // ...and the venue, key included, logged
      expect(output).toMatch(i === 0 ? /["']Hmac["']/ : /["']Ed25519["']/)
      expect(output).toContain("<redacted>")
      expectNoSecret(output)
    }
  }, 180_000)
})
