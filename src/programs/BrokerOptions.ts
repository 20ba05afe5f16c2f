/**
 * Where `trading-bus run` gets its prices and sends its orders: `--source`,
 * `--broker`, `--testnet`, `--live` and the Binance URLs, resolved together
 * because they constrain each other.
 *
 * The rules (README, "Trading on Binance"):
 * - `--broker paper` (default): orders are filled on paper; no key is read,
 *   `--live` and `--recv-window` change nothing. `--testnet` points the
 *   market data at the testnet and makes it the default source; with an
 *   explicit `--source sim` it would do nothing, so it is refused.
 * - `--broker binance` with none of `--testnet`, `--rest-url`, `--ws-api-url`,
 *   `--source binance`: the embedded simulator's Binance API, with a key the
 *   engine makes for the run (the environment's keys are not read: the
 *   simulator accepts only its own).
 * - Otherwise `--broker binance` trades on an exchange: prices come from it too
 *   (`--source binance`; `--source sim` is refused), every URL a flag does not
 *   give is the testnet's with `--testnet`, production's without, and the key
 *   comes from the environment (`BinanceKeys`). An order URL on Binance's
 *   production hosts needs `--live`: real money is never a default.
 */
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
import {
  binanceProduction,
  binanceTestnet,
  type BinanceKey,
  type EngineBroker
} from "../layers/engine/BrokerChoice.js"
import { readBinanceKey } from "./BinanceKeys.js"
import { ConfigurationError, redactCredentials } from "./ConfigurationError.js"
import * as Flag from "./internal/Flags.js"

const isUrl = (protocols: ReadonlyArray<string>) => (text: string) => {
  try {
    const url = new URL(text)
    return protocols.includes(url.protocol) && url.hostname.length > 0
  } catch {
    return false
  }
}

const urlFlag = (name: string, protocols: "http" | "ws", example: string, description: string) =>
  Flag.optional(
    Flag.text(name, `${protocols === "http" ? "an http(s)" : "a ws(s)"} URL such as ${example}`, description, {
      valid: isUrl(protocols === "http" ? ["http:", "https:"] : ["ws:", "wss:"])
    }),
    "Binance production's, the testnet's with --testnet"
  )

/** The flags this module resolves, as @effect/cli parses them. */
export const venueFlags = {
  source: Flag.optional(
    Flag.choice("source", ["sim", "binance"], "Where candles come from: the embedded simulator (offline) or Binance"),
    "sim; binance with --testnet, or with --broker binance on an exchange"
  ),
  broker: Flag.withDefault(
    Flag.choice(
      "broker",
      ["paper", "binance"],
      "Who executes orders: the paper broker, or Binance Spot's API: the embedded simulator's, or an exchange's with --testnet, --rest-url, --ws-api-url or --source binance; key from BINANCE_API_KEY with BINANCE_PRIVATE_KEY_FILE (Ed25519 PEM) or BINANCE_API_SECRET (HMAC)"
    ),
    "paper"
  ),
  testnet: Options.boolean("testnet").pipe(
    Options.withDescription(
      "Binance's Spot testnet: every Binance URL not given by a flag is the testnet's, and candles come from it (--source binance)"
    )
  ),
  live: Options.boolean("live").pipe(
    Options.withDescription(
      "Allow --broker binance to trade real money on Binance's production exchange (*.binance.com); refused without it"
    )
  ),
  restUrl: urlFlag("rest-url", "http", "https://testnet.binance.vision", "Binance REST base URL, for klines and orders (a trailing /api is dropped)"),
  wsApiUrl: urlFlag("ws-api-url", "ws", "wss://ws-api.testnet.binance.vision/ws-api/v3", "Binance WebSocket API URL (--broker binance: user data, order updates)"),
  wsUrl: urlFlag("ws-url", "ws", "wss://stream.binance.com:9443", "Binance market streams base URL (--source binance)"),
  recvWindow: Flag.withDefault(
    Flag.integer("recv-window", { min: 1, max: 60_000 }, "--broker binance: how long, in ms, a signed request stays valid at Binance"),
    5000
  )
}

export interface VenueFlags {
  readonly source: Option.Option<"sim" | "binance">
  readonly broker: "paper" | "binance"
  readonly testnet: boolean
  readonly live: boolean
  readonly restUrl: Option.Option<string>
  readonly wsApiUrl: Option.Option<string>
  readonly wsUrl: Option.Option<string>
  readonly recvWindow: number
}

/** The flags resolved: the source, its URLs, and who executes orders. */
export interface Venue {
  readonly source: "sim" | "binance"
  /** The market data's REST base (also the broker's on an exchange). */
  readonly restUrl: string
  /** The market streams' base. */
  readonly wsUrl: string
  readonly broker: EngineBroker
}

/** The broker adds `/api/v3/...`: a base given as Binance documents it (`.../api`) is accepted too. */
export const restBase = (url: string): string => url.replace(/\/+$/, "").replace(/\/api$/, "")

/**
 * Binance's production hosts, where orders are real money (binance.us is a
 * separate exchange, real money as well). The testnet is binance.vision.
 */
export const isProduction = (url: string): boolean => {
  try {
    const host = new URL(url).hostname.toLowerCase().replace(/\.$/, "")
    return ["binance.com", "binance.us"].some((domain) => host === domain || host.endsWith(`.${domain}`))
  } catch {
    return false
  }
}

const refuse = (flag: string, value: unknown, reason: string) =>
  Effect.fail(new ConfigurationError({ flag, value, reason }))

/** Resolves the flags; on an exchange, reads and checks the key (`readKey`, the environment's by default). */
export const resolveVenue = (
  flags: VenueFlags,
  readKey: (venue: string) => Effect.Effect<BinanceKey, ConfigurationError> = readBinanceKey
): Effect.Effect<Venue, ConfigurationError> =>
  Effect.gen(function*() {
    const urls = flags.testnet ? binanceTestnet : binanceProduction
    const restUrl = restBase(Option.getOrElse(flags.restUrl, () => urls.restUrl))
    const wsApiUrl = Option.getOrElse(flags.wsApiUrl, () => urls.wsApiUrl)
    const wsUrl = Option.getOrElse(flags.wsUrl, () => urls.wsUrl)
    const explicitSim = Option.contains(flags.source, "sim")
    if (flags.broker === "paper") {
      if (flags.testnet && explicitSim) {
        return yield* refuse("--testnet", true, "the embedded simulator (--source sim) has no testnet: drop --testnet, or use --source binance for the testnet's prices")
      }
      const source = Option.getOrElse(flags.source, () => flags.testnet ? "binance" as const : "sim" as const)
      return { source, restUrl, wsUrl, broker: "paper" }
    }
    const onExchange = flags.testnet || Option.isSome(flags.restUrl) || Option.isSome(flags.wsApiUrl) ||
      Option.contains(flags.source, "binance")
    if (!onExchange) {
      return { source: "sim", restUrl, wsUrl, broker: { _tag: "Binance", recvWindow: flags.recvWindow } }
    }
    if (explicitSim) {
      return yield* refuse(
        "--source",
        "sim",
        `--broker binance on ${redactCredentials(restUrl)} trades at that exchange's prices, not the simulator's: use --source binance (the default there), or drop --testnet, --rest-url and --ws-api-url to trade on the embedded simulator`
      )
    }
    const production = [restUrl, wsApiUrl].find(isProduction)
    if (production !== undefined && !flags.live) {
      return yield* refuse(
        "--broker",
        "binance",
        `it would trade real money on ${redactCredentials(production)} (Binance's production exchange): add --live to mean it, or --testnet (or --rest-url and --ws-api-url) for another exchange`
      )
    }
    const key = yield* readKey(redactCredentials(restUrl))
    return {
      source: "binance",
      restUrl,
      wsUrl,
      broker: { _tag: "Binance", urls: { restUrl, wsApiUrl }, key, recvWindow: flags.recvWindow }
    }
  })

/** Who executes orders, for the start line: never the key, only its kind. */
export const describeBroker = (broker: EngineBroker | undefined): string => {
  if (broker === undefined || broker === "paper") return "paper broker"
  if (broker.urls === undefined) return "binance broker on the embedded simulator"
  const production = isProduction(broker.urls.restUrl) || isProduction(broker.urls.wsApiUrl)
  const key = broker.key === undefined ? "" : `, ${broker.key._tag === "Ed25519" ? "Ed25519" : "HMAC"} key`
  return `binance broker on ${redactCredentials(broker.urls.restUrl)}${production ? " (LIVE: real money)" : ""}${key}`
}

/** The venue for a debug log line: URL credentials hidden; the key stays `Redacted` (it logs as `<redacted>`). */
export const venueForLog = (venue: Pick<Venue, "source" | "restUrl" | "wsUrl"> & { readonly broker?: EngineBroker | undefined }) => {
  const broker = venue.broker ?? "paper"
  return {
    source: venue.source,
    restUrl: redactCredentials(venue.restUrl),
    wsUrl: redactCredentials(venue.wsUrl),
    broker: broker === "paper" || broker.urls === undefined
      ? broker
      : { ...broker, urls: { restUrl: redactCredentials(broker.urls.restUrl), wsApiUrl: redactCredentials(broker.urls.wsApiUrl) } }
  }
}
