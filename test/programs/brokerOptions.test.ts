import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Redacted } from "effect"
import { binanceProduction, binanceTestnet, type BinanceKey } from "../../src/layers/engine/BrokerChoice.js"
import { describeBroker, isProduction, resolveVenue, restBase, type VenueFlags } from "../../src/programs/BrokerOptions.js"
import type { ConfigurationError } from "../../src/programs/ConfigurationError.js"

const flags = (overrides: Partial<VenueFlags> = {}): VenueFlags => ({
  source: Option.none(),
  broker: "paper",
  testnet: false,
  live: false,
  restUrl: Option.none(),
  wsApiUrl: Option.none(),
  wsUrl: Option.none(),
  recvWindow: 5000,
  ...overrides
})

const fakeKey: BinanceKey = { _tag: "Hmac", apiKey: Redacted.make("key"), secret: Redacted.make("secret") }

/** Resolves with a key reader that records the venues it was asked for. */
const resolve = (overrides: Partial<VenueFlags>) => {
  const asked: Array<string> = []
  const readKey = (venue: string) => Effect.sync(() => (asked.push(venue), fakeKey))
  return Effect.map(Effect.either(resolveVenue(flags(overrides), readKey)), (result) => ({ result, asked }))
}

const refused = (result: { readonly _tag: "Left"; readonly left: ConfigurationError } | { readonly _tag: "Right" }) => {
  expect(result._tag).toBe("Left")
  return (result as { readonly left: ConfigurationError }).left.message
}

describe("--broker, --testnet, --live and the Binance URLs", () => {
  it.effect("paper by default: the simulator's candles, no key read, --live and --recv-window change nothing", () =>
    Effect.gen(function*() {
      const { asked, result } = yield* resolve({ live: true, recvWindow: 100 })
      expect(result).toEqual(
        Either.right({ source: "sim", restUrl: binanceProduction.restUrl, wsUrl: binanceProduction.wsUrl, broker: "paper" })
      )
      expect(asked).toEqual([])
    }))

  it.effect("paper --testnet: the testnet's candles; with an explicit --source sim it is refused", () =>
    Effect.gen(function*() {
      const { asked, result } = yield* resolve({ testnet: true })
      expect(result).toMatchObject({
        right: { source: "binance", restUrl: binanceTestnet.restUrl, wsUrl: binanceTestnet.wsUrl, broker: "paper" }
      })
      expect(asked).toEqual([])
      const sim = yield* resolve({ testnet: true, source: Option.some("sim") })
      expect(refused(sim.result)).toBe(
        "invalid --testnet true: the embedded simulator (--source sim) has no testnet: drop --testnet, or use --source binance for the testnet's prices"
      )
    }))

  it.effect("binance alone: the embedded simulator, no URLs and no key (the engine makes one)", () =>
    Effect.gen(function*() {
      const { asked, result } = yield* resolve({ broker: "binance", recvWindow: 7000 })
      expect(result).toMatchObject({ right: { source: "sim", broker: { _tag: "Binance", recvWindow: 7000 } } })
      expect(result._tag === "Right" && typeof result.right.broker === "object" && "urls" in result.right.broker).toBe(false)
      expect(asked).toEqual([])
      expect(describeBroker(result._tag === "Right" ? result.right.broker : undefined)).toBe("binance broker on the embedded simulator")
    }))

  it.effect("binance --testnet: every URL the testnet's, candles from it, the key read; a flag's URL wins", () =>
    Effect.gen(function*() {
      const { asked, result } = yield* resolve({ broker: "binance", testnet: true })
      expect(result).toEqual(Either.right({
        source: "binance",
        restUrl: binanceTestnet.restUrl,
        wsUrl: binanceTestnet.wsUrl,
        broker: { _tag: "Binance", urls: { restUrl: binanceTestnet.restUrl, wsApiUrl: binanceTestnet.wsApiUrl }, key: fakeKey, recvWindow: 5000 }
      }))
      expect(asked).toEqual([binanceTestnet.restUrl])
      const mixed = yield* resolve({ broker: "binance", testnet: true, wsUrl: Option.some("ws://127.0.0.1:1"), live: true })
      expect(mixed.result).toMatchObject({
        right: { wsUrl: "ws://127.0.0.1:1", broker: { urls: { restUrl: binanceTestnet.restUrl, wsApiUrl: binanceTestnet.wsApiUrl } } }
      })
    }))

  it.effect("binance with --rest-url and --ws-api-url: used as given, a trailing /api dropped, the key required", () =>
    Effect.gen(function*() {
      const { asked, result } = yield* resolve({
        broker: "binance",
        restUrl: Option.some("http://127.0.0.1:9443/api/"),
        wsApiUrl: Option.some("ws://127.0.0.1:9443/ws-api/v3")
      })
      expect(result).toMatchObject({
        right: {
          source: "binance",
          restUrl: "http://127.0.0.1:9443",
          broker: { urls: { restUrl: "http://127.0.0.1:9443", wsApiUrl: "ws://127.0.0.1:9443/ws-api/v3" } }
        }
      })
      expect(asked).toEqual(["http://127.0.0.1:9443"])
      const failing = yield* Effect.either(
        resolveVenue(flags({ broker: "binance", testnet: true }), () => Effect.fail({ message: "no key" } as ConfigurationError))
      )
      expect(failing._tag).toBe("Left")
    }))

  it.effect("production needs --live: refused without it, naming the URL, before any key is read", () =>
    Effect.gen(function*() {
      const plain = yield* resolve({ broker: "binance", source: Option.some("binance") })
      expect(refused(plain.result)).toBe(
        `invalid --broker "binance": it would trade real money on https://api.binance.com (Binance's production exchange): add --live to mean it, or --testnet (or --rest-url and --ws-api-url) for another exchange`
      )
      expect(plain.asked).toEqual([])
      // a local REST URL alone leaves the WebSocket API on production
      const half = yield* resolve({ broker: "binance", restUrl: Option.some("http://127.0.0.1:9443") })
      expect(refused(half.result)).toContain(`real money on ${binanceProduction.wsApiUrl}`)
      const live = yield* resolve({ broker: "binance", source: Option.some("binance"), live: true })
      expect(live.result).toMatchObject({
        right: { source: "binance", broker: { urls: { restUrl: binanceProduction.restUrl, wsApiUrl: binanceProduction.wsApiUrl } } }
      })
      expect(live.asked).toEqual([binanceProduction.restUrl])
      expect(describeBroker(live.result._tag === "Right" ? live.result.right.broker : undefined)).toBe(
        "binance broker on https://api.binance.com (LIVE: real money), HMAC key"
      )
    }))

  it.effect("binance on an exchange with an explicit --source sim is refused: the prices would not be the exchange's", () =>
    Effect.gen(function*() {
      const { asked, result } = yield* resolve({ broker: "binance", testnet: true, source: Option.some("sim") })
      expect(refused(result)).toBe(
        `invalid --source "sim": --broker binance on https://testnet.binance.vision trades at that exchange's prices, not the simulator's: use --source binance (the default there), or drop --testnet, --rest-url and --ws-api-url to trade on the embedded simulator`
      )
      expect(asked).toEqual([])
    }))

  it("production is any binance.com (or binance.us) host; the testnet and look-alikes are not", () => {
    for (const url of [binanceProduction.restUrl, binanceProduction.wsApiUrl, "https://api1.binance.com", "https://API.BINANCE.COM.", "https://api.binance.us"]) {
      expect({ url, production: isProduction(url) }).toEqual({ url, production: true })
    }
    for (const url of [binanceTestnet.restUrl, binanceTestnet.wsApiUrl, "https://notbinance.com", "https://binance.com.evil.io", "http://127.0.0.1:9443"]) {
      expect({ url, production: isProduction(url) }).toEqual({ url, production: false })
    }
    expect(restBase("https://testnet.binance.vision/api")).toBe("https://testnet.binance.vision")
    expect(restBase("https://h/")).toBe("https://h")
  })
})
