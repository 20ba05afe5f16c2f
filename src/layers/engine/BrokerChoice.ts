import type { Duration, Redacted } from "effect"

/** Binance Spot's addresses: REST base (the broker adds `/api/v3/...`), the WebSocket API, the market streams. */
export interface BinanceUrls {
  readonly restUrl: string
  readonly wsApiUrl: string
  readonly wsUrl: string
}

export const binanceProduction: BinanceUrls = {
  restUrl: "https://api.binance.com",
  wsApiUrl: "wss://ws-api.binance.com:443/ws-api/v3",
  wsUrl: "wss://stream.binance.com:9443"
}

/** `--testnet`: every Binance address set to the Spot testnet's. */
export const binanceTestnet: BinanceUrls = {
  restUrl: "https://testnet.binance.vision",
  wsApiUrl: "wss://ws-api.testnet.binance.vision/ws-api/v3",
  wsUrl: "wss://stream.testnet.binance.vision"
}

/** An API key with what signs its requests: Ed25519 (recommended) from a PKCS#8 PEM, or HMAC-SHA256 (deprecated). */
export type BinanceKey =
  | { readonly _tag: "Ed25519"; readonly apiKey: Redacted.Redacted<string>; readonly privateKeyPem: Redacted.Redacted<string> }
  | { readonly _tag: "Hmac"; readonly apiKey: Redacted.Redacted<string>; readonly secret: Redacted.Redacted<string> }

/** Real execution on Binance Spot, or anything speaking its API (the testnet, the embedded simulator). */
export interface BinanceBrokerChoice {
  readonly _tag: "Binance"
  /**
   * Where orders go. Omitted with the `Simulator` source: the embedded exchange, with a key made for the run,
   * so the whole signed path runs offline. Otherwise required, with `key`.
   */
  readonly urls?: Pick<BinanceUrls, "restUrl" | "wsApiUrl">
  readonly key?: BinanceKey
  /** Default 5000 ms, as Binance's. */
  readonly recvWindow?: number
  /** How long the broker waits and asks; each has `BinanceBrokerOptions`' default. */
  readonly timing?: {
    readonly requestTimeout?: Duration.DurationInput
    readonly notFoundGrace?: Duration.DurationInput
    readonly queryInterval?: Duration.DurationInput
    readonly maxQueryInterval?: Duration.DurationInput
  }
}

/** Who executes the engine's orders: the paper broker (the default) or Binance. */
export type EngineBroker = "paper" | BinanceBrokerChoice
