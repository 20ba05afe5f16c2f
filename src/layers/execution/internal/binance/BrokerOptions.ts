/** What a Binance broker is told, and how its start can fail. */
import { Data, type Duration, type Redacted } from "effect"
import type { Signer } from "./signing.js"

export interface BinanceBrokerOptions {
  /** As "https://api.binance.com" or "https://testnet.binance.vision"; no trailing slash. */
  readonly restUrl: string
  /** The WebSocket API for the user data stream, as "wss://ws-api.binance.com:443/ws-api/v3"; without it, queries only. */
  readonly wsApiUrl?: string
  readonly apiKey: Redacted.Redacted<string>
  /** From `hmacSigner` or `ed25519Signer` (signing.ts). */
  readonly signer: Signer
  /** Default 5000 ms. */
  readonly recvWindow?: number
  /** A request not answered within it is UNKNOWN. Default 10 seconds. */
  readonly requestTimeout?: Duration.DurationInput
  /** How long after an UNKNOWN send a -2013 still means "not known yet" rather than "not placed". Default 10 s. */
  readonly notFoundGrace?: Duration.DurationInput
  /** First wait between queries of an order in doubt or still open; doubles up to `maxQueryInterval`. Default 200 ms. */
  readonly queryInterval?: Duration.DurationInput
  /** Default 5 seconds. */
  readonly maxQueryInterval?: Duration.DurationInput
  /** Server-time offset refreshed this often. Default 5 minutes. */
  readonly timeSyncInterval?: Duration.DurationInput
}

/** The broker could not start: the exchange unreachable, or its answers unusable. */
export class BinanceBrokerStartError extends Data.TaggedError("BinanceBrokerStartError")<{
  readonly restUrl: string
  readonly reason: string
}> {
  override get message() {
    return `cannot start the Binance broker at ${this.restUrl}: ${this.reason}`
  }
}
