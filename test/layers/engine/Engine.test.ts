import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { createServer, type Server } from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Engine from "../../../src/layers/engine/Engine.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { Journal } from "../../../src/services/Journal.js"
import { Strategy } from "../../../src/services/Strategy.js"
import { runCli } from "../../support/cli.js"
import { created } from "../../support/journal.js"

const tmp = () => mkdtempSync(join(tmpdir(), "engine-"))

/** A strategy of the user's: LONG on every 5th candle of a symbol, nothing else. */
const everyFifth = Layer.sync(Strategy, () => {
  const seen = new Map<string, number>()
  return {
    name: "every-fifth",
    analyze: (candle) =>
      Effect.sync(() => {
        const n = (seen.get(candle.symbol) ?? 0) + 1
        seen.set(candle.symbol, n)
        return n % 5 === 0
          ? Option.some({
            symbol: candle.symbol,
            direction: "LONG" as const,
            price: candle.close,
            timestamp: candle.closeTime,
            strategy: "every-fifth",
            reason: "fifth"
          })
          : Option.none()
      })
  }
})

/** Holds a port on 127.0.0.1 until closed. */
const holdPort = () =>
  new Promise<Server>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

describe("Engine, the library's engine", () => {
  it.live("Engine.run on the simulator with a strategy of the user's: no platform layer to provide, the summary's fields unchanged", () =>
    Effect.gen(function*() {
      const summary = yield* Engine.run({
        source: { _tag: "Simulator", seed: 3, speed: 100 },
        strategy: everyFifth,
        duration: "1500 millis",
        journal: false,
        metrics: false
      })
      expect(Object.keys(summary)).toEqual(
        ["candles", "signals", "orders", "fills", "rejected", "errors", "queues", "collector", "positions", "pnl"]
      )
      expect(summary.candles.BTCUSDT).toBeGreaterThan(20)
      // one signal per five candles of each symbol, and every order they lead to filled (long-only: LONGs only)
      const candles = Object.values(summary.candles).reduce((a, b) => a + b, 0)
      expect(Math.abs(summary.signals - Math.floor(candles / 5))).toBeLessThanOrEqual(2)
      expect(summary.fills).toBeGreaterThan(0)
      expect(Object.keys(summary.pnl)).toEqual(["realized", "unrealized"])
    }), 30_000)

  it.live("Engine.run refuses --journal /proc/nope/j.db at once (Node's recursive mkdir spins on it)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Engine.run({
        source: { _tag: "Simulator" },
        strategy: Strategy.none,
        journal: "/proc/nope/j.db",
        metrics: false
      })).pipe(Effect.timeout("5 seconds"))
      expect(error._tag).toBe("EngineConfigError")
      expect(error).toMatchObject({ option: "journal", value: "/proc/nope/j.db" })
    }), 30_000)

  it.live("Engine.run fails on a busy metrics port before building anything", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(holdPort)
      const port = (server.address() as AddressInfo).port
      const error = yield* Effect.flip(Engine.run({
        source: { _tag: "Simulator" },
        strategy: Strategy.none,
        journal: false,
        metrics: { port }
      })).pipe(Effect.ensuring(Effect.promise(() => new Promise((resolve) => server.close(resolve)))))
      expect(error).toMatchObject({ _tag: "EngineConfigError", option: "metricsPort", value: port })
    }), 30_000)
})

describe("start-up checks of trading-bus run, before any order moves", () => {
  it.live("a busy --metrics-port with a journal holding a pending order: exit 2, and the order was not executed", () =>
    Effect.gen(function*() {
      const journal = join(tmp(), "j.db")
      yield* Effect.flatMap(Journal, (j) => j.append(created("pending-1"), "order")).pipe(
        Effect.provide(SqliteJournal.layer({ filename: journal }))
      )
      const server = yield* Effect.promise(holdPort)
      const port = (server.address() as AddressInfo).port
      const run = yield* Effect.promise(() =>
        runCli(["run", "--journal", journal, "--metrics-port", String(port), "--duration", "5s"])
      ).pipe(Effect.ensuring(Effect.promise(() => new Promise((resolve) => server.close(resolve)))))
      expect(run.code).toBe(2)
      expect(run.stderr).toContain(`invalid --metrics-port ${port}`)
      expect(run.stderr).not.toMatch(/\n\s+at /)
      const left = yield* Effect.flatMap(Journal, (j) => Effect.all({ pending: j.pending, orders: j.orderEvents })).pipe(
        Effect.provide(SqliteJournal.layer({ filename: journal }))
      )
      expect(left.pending).toHaveLength(1)
      expect(left.orders.map((e) => e.event.type)).toEqual(["OrderCreated"])
    }), 60_000)

  it.live("an unwritable --summary-json or --report exits 2 at start, not after the run", () =>
    Effect.gen(function*() {
      for (const flag of ["--summary-json", "--report"]) {
        const run = yield* Effect.promise(() => runCli(["run", "--duration", "1h", flag, "/nonexistent/s.json"]))
        expect(run.code).toBe(2)
        expect(run.stderr).toContain(`invalid ${flag} "/nonexistent/s.json"`)
        expect(run.stdout).not.toContain("run summary")
      }
    }), 60_000)

  // a run of 1h that spun on the path would outlast the test's timeout; how quickly is the in-process test's to say
  // (a CLI's start-up time depends on the machine's load)
  it.live("--journal /proc/nope/j.db is refused with exit 2, not after the run's hour", () =>
    Effect.gen(function*() {
      const run = yield* Effect.promise(() => runCli(["run", "--journal", "/proc/nope/j.db", "--duration", "1h"]))
      expect(run.code).toBe(2)
      expect(run.stderr).toContain("--journal")
    }), 90_000)
})

describe("--strategy <module> and --param", () => {
  const module = "test/fixtures/strategy/every-nth.ts"

  it.live("run --strategy <module> --param k=v: the module's strategy trades, with the params given", () =>
    Effect.gen(function*() {
      const summaryFile = join(tmp(), "summary.json")
      const run = yield* Effect.promise(() =>
        runCli([
          "run", "--strategy", module, "--param", "every=4", "--param", "name=nth",
          "--duration", "2s", "--speed", "50", "--summary-json", summaryFile, "--log-level", "none"
        ])
      )
      expect(run.code).toBe(0)
      const summary = JSON.parse(readFileSync(summaryFile, "utf8"))
      const candles = Object.values(summary.candles as Record<string, number>).reduce((a, b) => a + b, 0)
      expect(summary.signals).toBeGreaterThan(0)
      expect(Math.abs(summary.signals - Math.floor(candles / 4))).toBeLessThanOrEqual(2)
    }), 60_000)

  it.live("backtest --strategy <module>: the same module through the backtest", () =>
    Effect.gen(function*() {
      const run = yield* Effect.promise(() =>
        runCli([
          "backtest", "--candles", "test/fixtures/binance/ADABTC-1m-2021-11-27.csv",
          "--strategy", module, "--param", "every=100", "--log-level", "none"
        ])
      )
      expect(run.code).toBe(0)
      expect(run.stdout).toContain("backtest ADABTC 1m: 1440 candles")
      expect(run.stdout).toContain("signals 14,")
    }), 60_000)

  it.live("a missing module, or one whose default export is not a strategy, exits 2 naming --strategy", () =>
    Effect.gen(function*() {
      for (const path of ["test/fixtures/strategy/nope.ts", "test/fixtures/strategy/not-a-layer.ts"]) {
        const run = yield* Effect.promise(() => runCli(["run", "--strategy", path, "--duration", "1h"]))
        expect(run.code).toBe(2)
        expect(run.stderr).toContain(`invalid --strategy "${path}"`)
      }
    }), 60_000)
})
