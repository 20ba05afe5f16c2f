import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Console, Effect, Layer, Option } from "effect"
import { eventBusConfigFromEnv } from "../../src/domain/EventBusConfig.js"
import { asConfigurationError } from "../../src/programs/ConfigurationError.js"
import * as Logging from "../../src/programs/Logging.js"
import { runFlags } from "../../src/programs/RunOptions.js"

/** `run`'s flags parsed as the program parses them, in-process: what @effect/cli prints on stderr, and the flags. */
const parse = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const err: Array<string> = []
    let parsed: Record<string, unknown> | undefined
    const current = yield* Effect.console
    // @effect/cli prints with Console.error, the service's effectful method
    const console: Console.Console = {
      ...current,
      error: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void err.push(a.map(String).join(" ")))
    }
    const run = Command.run(
      Command.make("run", { ...runFlags, ...Logging.loggingFlags }, (flags) => Effect.sync(() => void (parsed = flags))),
      { name: "trading-bus", version: "0" }
    )
    yield* run(["node", "main.ts", ...args]).pipe(
      Effect.ignore,
      Effect.withConsole(console),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.provide(Layer.empty.pipe(Layer.provideMerge(NodeContext.layer)))
    )
    return { stderr: err.join("\n").trim(), parsed }
  })

describe("run's flags refuse values outside their range, naming the flag or variable", () => {
  it.effect.each([
    [["--seed", "abc"], {}, `trading-bus: invalid --seed "abc": expected a whole number from 0 to 4294967295`],
    [["--seed", "-1"], {}, `trading-bus: invalid --seed "-1": expected a whole number from 0 to 4294967295`],
    [["--fast", "0x10"], {}, `trading-bus: invalid --fast "0x10": expected a whole number from 1 to 1000`],
    [["--slow", "1000000000000"], {}, `trading-bus: invalid --slow "1000000000000": expected a whole number from 2 to 1000`],
    [["--speed", "1e-300"], {}, `trading-bus: invalid --speed "1e-300": expected a number from 0.01 to 10000`],
    [["--slippage-bps", "1e12"], {}, `trading-bus: invalid --slippage-bps "1e12": expected a number from 0 to 1000`],
    [["--fee-bps", "-1"], {}, `trading-bus: invalid --fee-bps "-1": expected a number from 0 to 1000`],
    [["--max-open-orders", "0"], {}, `trading-bus: invalid --max-open-orders "0": expected a whole number from 1 to 1000`],
    [["--quote-amount", "0"], {}, `trading-bus: invalid --quote-amount "0": expected a decimal above 0 and at most 1000000000`],
    [["--max-position-notional", "1e15"], {}, `trading-bus: invalid --max-position-notional "1e15": expected a decimal above 0 and at most 1000000000`],
    [["--duration", "30d"], {}, `trading-bus: invalid --duration "30d": expected a duration from 1ms to 24d, such as 500ms, 30s, 5m or 1h`],
    [["--status-interval", "1ms"], {}, `trading-bus: invalid --status-interval "1ms": expected a duration from 100ms to 1h, such as 500ms, 30s, 5m or 1h`],
    [["--broker-latency", "-1 seconds"], {}, `trading-bus: invalid --broker-latency "-1 seconds": expected a duration from 0ms to 1m, such as 500ms, 30s, 5m or 1h`],
    [["--metrics-port", "70000"], {}, `trading-bus: invalid --metrics-port "70000": expected a whole number from 0 to 65535`],
    [[], { TRADING_BUS_METRICS_PORT: "-1" }, `trading-bus: invalid TRADING_BUS_METRICS_PORT "-1": expected a whole number from 0 to 65535`],
    [[], { TRADING_BUS_LOG_FORMAT: "xml" }, `trading-bus: invalid TRADING_BUS_LOG_FORMAT "xml": expected pretty or json`],
    [["--broker", "kraken"], {}, `trading-bus: invalid --broker "kraken": expected paper or binance`],
    [["--ws-api-url", "https://ws-api.binance.com"], {}, `trading-bus: invalid --ws-api-url "https://ws-api.binance.com": expected a ws(s) URL such as wss://ws-api.testnet.binance.vision/ws-api/v3`],
    [["--ws-url", "not a url"], {}, `trading-bus: invalid --ws-url "not a url": expected a ws(s) URL such as wss://stream.binance.com:9443`],
    [["--recv-window", "60001"], {}, `trading-bus: invalid --recv-window "60001": expected a whole number from 1 to 60000`],
    [["--log-level", "loud"], {}, `trading-bus: invalid --log-level "loud": expected one of trace, debug, info, warning, error, none`]
  ] as const)("%j %j", ([args, env, line]) =>
    Effect.gen(function*() {
      const { parsed, stderr } = yield* parse(args, env)
      expect(stderr).toBe(line)
      expect(parsed).toBeUndefined()
    }))

  it.effect("the defaults, and a flag winning over its environment variable", () =>
    Effect.gen(function*() {
      const defaults = yield* parse([])
      expect(defaults.parsed).toMatchObject({
        broker: "paper", testnet: false, live: false, recvWindow: 5000, fast: 9, slow: 21, seed: 42, speed: 10, quoteAmount: "100", feeBps: 10, slippageBps: 5,
        brokerLatency: "0ms", statusInterval: "5s", metricsPort: 9464, metricsHost: "127.0.0.1", logLevel: "info"
      })
      // --source's default depends on --broker and --testnet (BrokerOptions)
      expect(defaults.parsed?.source).toEqual(Option.none())
      const flag = yield* parse(["--metrics-port", "0", "--speed", "0.5"], { TRADING_BUS_METRICS_PORT: "9999" })
      expect(flag.parsed).toMatchObject({ metricsPort: 0, speed: 0.5 })
      const env = yield* parse([], { TRADING_BUS_METRICS_PORT: "9999", TRADING_BUS_LOG_LEVEL: "debug" })
      expect(env.parsed).toMatchObject({ metricsPort: 9999, logLevel: "debug" })
    }))
})

describe("the bus's environment variables", () => {
  const fromEnv = (env: Record<string, string>) =>
    Effect.flip(eventBusConfigFromEnv()).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.map((error) => asConfigurationError(error))
    )

  it.effect.each([
    ["TRADING_BUS_DATA_CAPACITY", "abc", "expected a whole number from 1 to 1000000"],
    ["TRADING_BUS_DATA_CAPACITY", "-5", "expected a whole number from 1 to 1000000"],
    ["TRADING_BUS_DATA_CAPACITY", "1e12", "expected a whole number from 1 to 1000000"],
    ["TRADING_BUS_DATA_CAPACITY", "0x10", "expected a whole number from 1 to 1000000"],
    ["TRADING_BUS_ORDER_CAPACITY", "1000001", "expected a whole number from 1 to 1000000"],
    ["TRADING_BUS_DRAIN_TIMEOUT", "-1 seconds", "expected a duration from 1ms to 24d, such as 500ms, 5s or \"5 seconds\""],
    ["TRADING_BUS_HANDLER_TIMEOUT", "25d", "expected a duration from 1ms to 24d, such as 500ms, 5s or \"5 seconds\""],
    ["TRADING_BUS_METRICS", "maybe", "expected true or false"]
  ] as const)("%s=%s names the variable", ([variable, value, reason]) =>
    Effect.gen(function*() {
      const error = yield* fromEnv({ [variable]: value })
      // the program reads the value back from process.env; here the provider is a map
      expect(error).toMatchObject({ _tag: "ConfigurationError", flag: variable, reason })
    }))

  it.effect("durations in the flags' syntax, and the defaults", () =>
    Effect.gen(function*() {
      const config = yield* eventBusConfigFromEnv().pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["TRADING_BUS_DRAIN_TIMEOUT", "5s"], ["TRADING_BUS_DATA_CAPACITY", "64"]])))
      )
      expect(config).toMatchObject({ dataCapacity: 64, signalCapacity: 100, metrics: false })
      expect(config.drainTimeout).toEqual(expect.objectContaining({ value: { _tag: "Millis", millis: 5000 } }))
    }))
})
