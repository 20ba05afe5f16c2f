/**
 * `trading-bus simulate`: the simulated exchange on its own, for other
 * clients. With the user's key (from the environment, as `run` reads it) it
 * also trades, so that `trading-bus run --broker binance --rest-url ...`
 * can be pointed at it; fault flags make it misbehave the way an exchange
 * does, from the start.
 */
import { Command, Options } from "@effect/cli"
import { BigDecimal, Console, Context, Effect, Layer, Option } from "effect"
import { formatDecimal } from "../domain/Decimal.js"
import * as SimulatedExchange from "../layers/market/SimulatedExchange.js"
import { cannotListen, ConfigurationError } from "./ConfigurationError.js"
import * as Flag from "./internal/Flags.js"
import { apiKeyVariable, keyFileVariable, secretVariable, simulatorKeys } from "./internal/SimulatorKeys.js"
import * as Logging from "./Logging.js"
import { runFlags } from "./RunOptions.js"

const amountText = /^[0-9]{1,20}(\.[0-9]{1,8})?$/

/** `--balances USDT=100000,BTC=0.5`: the account's starting balances, amounts kept as the exact text given. */
const balancesSpec: Flag.FlagSpec<Readonly<Record<string, string>>> = {
  name: "balances",
  pseudo: "ASSET=amount,...",
  description: "The simulated account's starting balances (used once a key is set)",
  accepted: "comma-separated ASSET=amount pairs, each asset once, amounts decimals >= 0 with up to 8 decimals, such as USDT=100000,BTC=0.5",
  parse: (text) => {
    const pairs = text.split(",").map((pair) => pair.split("=").map((s) => s.trim()))
    const ok = pairs.every((p) => p.length === 2 && /^[A-Za-z0-9]{1,20}$/.test(p[0]!) && amountText.test(p[1]!))
    const assets = pairs.map((p) => p[0]!.toUpperCase())
    return ok && new Set(assets).size === assets.length
      ? Option.some(Object.fromEntries(pairs.map(([asset, amount]) => [asset!.toUpperCase(), amount!])))
      : Option.none()
  }
}

const count = (name: string, description: string) => Flag.optional(Flag.integer(name, { min: 1, max: 1_000_000 }, description))

/** The faults, each mapped to one `SimulatorControl` call at start. */
const faultFlags = {
  dropOrderRequests: count("drop-order-requests", "Fault: drop the next N new orders unseen (the connection closes, nothing is placed)"),
  dropOrderResponses: count("drop-order-responses", "Fault: place the next N new orders, then close the connection without an answer"),
  failAfterAccepting: count(
    "fail-after-accepting",
    "Fault: place the next N new orders, then answer --fail-status with -1007 (execution status unknown)"
  ),
  failStatus: Flag.optional(Flag.integer("fail-status", { min: 500, max: 599 }, "HTTP status of --fail-after-accepting's answers, 503 when not given")),
  clockSkew: Flag.optional(
    Flag.integer(
      "clock-skew",
      { min: -86_400_000, max: 86_400_000 },
      "Fault: the server's clock runs this many milliseconds ahead (negative: behind), so signed requests meet -1021"
    )
  ),
  rateLimit: count("rate-limit", "Fault: refuse the next N REST requests with --rate-limit-status and a Retry-After header"),
  retryAfter: Flag.optional(Flag.integer("retry-after", { min: 0, max: 3600 }, "Retry-After of --rate-limit's answers, in seconds; 1 when not given")),
  rateLimitStatus: Flag.optional(
    Flag.choice("rate-limit-status", ["429", "418"], "Status of --rate-limit's answers: 429, or 418 (IP banned); 429 when not given")
  ),
  fillInParts: Flag.optional(
    Flag.integer("fill-in-parts", { min: 1, max: 100 }, "Fill MARKET orders in N parts: the first at once, one more at each later price; 1 (whole) when not given")
  ),
  dropUserDataOnPartialFill: Options.boolean("drop-user-data-on-partial-fill").pipe(
    Options.withDescription("Fault: close every user-data socket right after the next partial fill is reported (once)")
  )
}

type Faults = { readonly [K in keyof typeof faultFlags]: typeof faultFlags[K] extends Options.Options<infer A> ? A : never }

/** A setting of a fault that is not given: its flag would do nothing, which the user cannot have meant. */
const needs = (flag: string, value: Option.Option<unknown>, other: Option.Option<unknown>, otherFlag: string) =>
  Option.isSome(value) && Option.isNone(other)
    ? Effect.fail(new ConfigurationError({ flag, value: value.value, reason: `applies to ${otherFlag}, which is not given: add it` }))
    : Effect.void

/** Refused before the exchange starts, so that the error is the only line printed. */
const checkFaults = (f: Faults) =>
  Effect.all([
    needs("--fail-status", f.failStatus, f.failAfterAccepting, "--fail-after-accepting"),
    needs("--retry-after", f.retryAfter, f.rateLimit, "--rate-limit"),
    needs("--rate-limit-status", f.rateLimitStatus, f.rateLimit, "--rate-limit")
  ], { discard: true })

/** Sets the faults through the exchange's control; what was set, for the start line. */
const applyFaults = (control: SimulatedExchange.SimulatorControl, f: Faults) =>
  Effect.gen(function*() {
    const set: Array<string> = []
    if (Option.isSome(f.dropOrderRequests)) {
      yield* control.dropOrderRequests(f.dropOrderRequests.value)
      set.push(`drop ${f.dropOrderRequests.value} order request(s)`)
    }
    if (Option.isSome(f.dropOrderResponses)) {
      yield* control.dropOrderResponses(f.dropOrderResponses.value)
      set.push(`drop ${f.dropOrderResponses.value} order response(s)`)
    }
    if (Option.isSome(f.failAfterAccepting)) {
      const status = Option.getOrElse(f.failStatus, () => 503)
      yield* control.failAfterAccepting(f.failAfterAccepting.value, status)
      set.push(`answer ${status} after accepting ${f.failAfterAccepting.value} order(s)`)
    }
    if (Option.isSome(f.clockSkew)) {
      yield* control.skewClock(f.clockSkew.value)
      set.push(`clock skewed ${f.clockSkew.value} ms`)
    }
    if (Option.isSome(f.rateLimit)) {
      const status = Option.getOrElse(f.rateLimitStatus, () => "429") === "418" ? 418 : 429
      const retryAfterSeconds = Option.getOrElse(f.retryAfter, () => 1)
      yield* control.rateLimit({ count: f.rateLimit.value, retryAfterSeconds, status })
      set.push(`${status} for ${f.rateLimit.value} request(s), Retry-After ${retryAfterSeconds}`)
    }
    if (Option.isSome(f.fillInParts)) {
      yield* control.fillMarketInParts(f.fillInParts.value)
      set.push(`MARKET orders filled in ${f.fillInParts.value} parts`)
    }
    if (f.dropUserDataOnPartialFill) {
      yield* control.dropUserDataOnPartialFill
      set.push("user data dropped at the next partial fill")
    }
    return set
  })

const hostFlag = Flag.withDefault(Flag.text("host", "an address of this machine", "Interface to listen on"), "127.0.0.1")
const portFlag = Flag.withDefault(Flag.integer("port", { min: 0, max: 65535 }, "Port to listen on; 0 picks a free one"), 9443)

export const simulateCommand = Command.make(
  "simulate",
  {
    port: portFlag,
    host: hostFlag,
    symbols: runFlags.symbols,
    interval: runFlags.interval,
    seed: runFlags.seed,
    speed: runFlags.speed,
    balances: Flag.optional(balancesSpec),
    ...faultFlags,
    ...Logging.loggingFlags
  },
  ({ balances, host, interval, logFormat, logLevel, port, seed, speed, symbols, ...faults }) => {
    const symbolList = symbols.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
    return Effect.gen(function*() {
      yield* checkFaults(faults)
      const access = yield* simulatorKeys
      const options: SimulatedExchange.SimulatedExchangeOptions = {
        host,
        port,
        interval,
        seed,
        speed,
        symbols: symbolList,
        keys: access.keys,
        ...(Option.isSome(balances) ? { balances: balances.value } : {})
      }
      // built in this command's scope: the server lives until Ctrl-C
      const exchange = yield* Layer.build(SimulatedExchange.layer(options)).pipe(
        Effect.map(Context.get(SimulatedExchange.SimulatedExchange)),
        Effect.catchTag("SimulatedExchangeStartError", (e) =>
          Effect.fail(
            cannotListen({ host, port, hostFlag: "--host", portFlag: "--port", cause: e.cause, otherwise: "or 0 for a free one" })
          ))
      )
      const set = yield* applyFaults(exchange.control, faults)
      const held = Object.entries(yield* exchange.control.balances)
        .map(([asset, b]) => [asset, BigDecimal.unsafeFromString(b.free)] as const)
        .filter(([, free]) => BigDecimal.isPositive(free))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([asset, free]) => `${asset}=${formatDecimal(free)}`)
        .join(",")
      const streams = symbolList.map((s) => `${s.toLowerCase()}@kline_${interval}`).join("/")
      const trading = access.type === undefined
        ? `market data only: set ${apiKeyVariable} with ${secretVariable} (HMAC) or ${keyFileVariable} (Ed25519) to trade`
        : `trading with ${apiKeyVariable}'s ${access.type} key, balances ${held}`
      yield* Console.log(
        `simulated exchange: ws ${exchange.wsUrl} (/stream?streams=${streams}), rest ${exchange.restUrl} (/api/v3/...), ws-api ${exchange.wsApiUrl}; ${trading}; faults: ${
          set.length === 0 ? "none" : set.join(", ")
        } (Ctrl-C to stop)`
      )
      return yield* Effect.never
    }).pipe(Effect.scoped, Effect.provide(Logging.layer({ format: logFormat, level: logLevel })))
  }
).pipe(Command.withDescription(
  `Serve a simulated exchange speaking Binance's market-data streams, REST and WebSocket API. With ${apiKeyVariable} and ${secretVariable} (HMAC) or ${keyFileVariable} (an Ed25519 private key, PKCS#8 PEM) it trades for that key, so trading-bus run --broker binance --rest-url http://HOST:PORT --ws-api-url ws://HOST:PORT/ws-api/v3 --ws-url ws://HOST:PORT can trade against it; the fault flags make it fail as an exchange does`
))
