import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Console, Effect } from "effect"
import { makeEventAt } from "../../src/domain/BusEvent.js"
import * as Logging from "../../src/programs/Logging.js"
import { candle, openBus, settle } from "../support/fixtures.js"
import { runCli } from "../support/cli.js"

/** Runs `program` with the logger of `settings`, writing to a Console that keeps what goes to stdout and stderr. */
const captured = <A, E>(settings: Logging.LoggingSettings & { readonly file?: string }, program: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const current = yield* Effect.console
    const join = (args: ReadonlyArray<unknown>) => args.map(String).join(" ")
    const console: Console.Console = {
      ...current,
      unsafe: {
        ...current.unsafe,
        log: (...args: ReadonlyArray<unknown>) => out.push(join(args)),
        error: (...args: ReadonlyArray<unknown>) => err.push(join(args)),
        group: () => {},
        groupEnd: () => {}
      }
    }
    yield* program.pipe(Effect.provide(Logging.layer(settings)), Effect.withConsole(console))
    return { out, err }
  })

const levels = Effect.all([
  Effect.logTrace("a trace"),
  Effect.logDebug("a debug"),
  Effect.logInfo("an info"),
  Effect.logWarning("a warning"),
  Effect.logError("an error"),
  Effect.logFatal("a fatal")
])

describe("Logging", () => {
  it.scoped("json: one JSON object per line on stderr, the bus's handler failures with queue, handler, eventType, eventId", () =>
    Effect.gen(function*() {
      const event = makeEventAt("CandleClosed", candle(42_000), 0)
      const { err, out } = yield* captured(
        { format: "json", level: "info" },
        Effect.gen(function*() {
          const { bus, close } = yield* openBus()
          yield* bus.subscribe("CandleClosed", () => Effect.fail("boom"), { name: "strategy" })
          yield* bus.publish(event)
          yield* settle
          yield* close
        })
      )
      expect(out).toEqual([])
      expect(err.length).toBeGreaterThan(0)
      const lines = err.map((line) => JSON.parse(line))
      const failure = lines.find((l) => l.message === `handler strategy failed on CandleClosed ${event.id}`)
      expect(failure).toMatchObject({
        logLevel: "ERROR",
        annotations: { queue: "data", handler: "strategy", eventType: "CandleClosed", eventId: event.id },
        timestamp: expect.any(String),
        fiberId: expect.any(String)
      })
      expect(failure.cause).toContain("boom")
    }))

  it.effect("json to stdout when asked", () =>
    Effect.gen(function*() {
      const { err, out } = yield* captured(
        { format: "json", level: "info", stream: "stdout" },
        Effect.logInfo("hello").pipe(Effect.annotateLogs({ eventId: "e-1" }))
      )
      expect(err).toEqual([])
      expect(out.map((l) => JSON.parse(l))).toMatchObject([{ message: "hello", logLevel: "INFO", annotations: { eventId: "e-1" } }])
    }))

  it.effect.each([
    ["trace", ["a trace", "a debug", "an info", "a warning", "an error", "a fatal"]],
    ["debug", ["a debug", "an info", "a warning", "an error", "a fatal"]],
    ["info", ["an info", "a warning", "an error", "a fatal"]],
    ["warning", ["a warning", "an error", "a fatal"]],
    ["error", ["an error", "a fatal"]],
    ["none", []]
  ] as const)("--log-level %s keeps only that level and above", ([level, expected]) =>
    Effect.gen(function*() {
      const { err } = yield* captured({ format: "json", level }, levels)
      expect(err.map((l) => JSON.parse(l).message)).toEqual(expected)
    }))

  it.effect("pretty: a first line with level and message, then the annotations, without colors when told", () =>
    Effect.gen(function*() {
      const { err, out } = yield* captured(
        { format: "pretty", level: "info", colors: false },
        Effect.logWarning("queue is filling up").pipe(Effect.annotateLogs({ queue: "signal" }))
      )
      expect(out).toEqual([])
      expect(err[0]).toMatch(/^\[[\d:.]+\] WARN \(#\d+\): queue is filling up$/)
      expect(err.slice(1)).toEqual(["queue: signal"])
      expect(err.join("\n")).not.toContain("\x1b[")
    }))
})

describe("--log-file", () => {
  it.effect("appends the lines to the file, without colors, and nothing to the terminal", () =>
    Effect.gen(function*() {
      const file = join(mkdtempSync(join(tmpdir(), "trading-bus-")), "run.log")
      const { err, out } = yield* captured(
        { format: "pretty", level: "info", colors: true, file },
        Effect.logWarning("queue is filling up").pipe(Effect.annotateLogs({ queue: "signal" }))
      )
      expect([...out, ...err]).toEqual([])
      const text = readFileSync(file, "utf8")
      expect(text).toMatch(/^\[[\d:.]+\] WARN \(#\d+\): queue is filling up\n {2}queue: signal\n$/)
    }))
})

describe("the --log-format and --log-level flags", () => {
  it("run --log-format json --log-level debug: every line on stderr is JSON, stdout keeps the summary", async () => {
    const { code, stderr, stdout } = await runCli([
      "run",
      "--duration",
      "2s",
      "--log-format",
      "json",
      "--log-level",
      "debug",
      // no such symbol: the collector logs its failures, as JSON
      "--symbols",
      "btcusdt"
    ])
    expect(code).toBe(0)
    expect(stdout).toContain("run summary")
    for (const line of stderr.split("\n").filter((l) => l.trim().length > 0)) {
      expect(() => JSON.parse(line), line).not.toThrow()
    }
  }, 60_000)

  it("an unknown --log-level is a usage error (exit 2)", async () => {
    const { code, stderr, stdout } = await runCli(["run", "--log-level", "loud"])
    expect(code).toBe(2)
    expect(`${stdout}${stderr}`).toContain("trace, debug, info, warning, error, none")
  }, 60_000)
})
