/**
 * At start with an exchange's account: a position the journal holds but the account does not is reported and
 * the exchange's figure wins (a reconciliation fill), before the source starts; a position the account covers is
 * left alone.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Engine from "../../../src/layers/engine/Engine.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { Journal } from "../../../src/services/Journal.js"
import { Strategy } from "../../../src/services/Strategy.js"
import { created, filled } from "../../support/journal.js"
import { hmacKey, startExchange } from "../../support/simulatorTrading.js"

/** A journal whose one order bought 0.01 BTCUSDT (done: a previous run's). */
const journalHolding = Effect.gen(function*() {
  const file = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "balance-check-")), "journal.db")
  yield* Effect.scoped(Effect.gen(function*() {
    const journal = yield* Layer.build(SqliteJournal.layer({ filename: file })).pipe(Effect.map(Context.get(Journal)))
    yield* journal.append(created("earlier-1"), "order", { done: true })
    yield* journal.append(filled("earlier-1"), "order", { done: true })
  }))
  return file
})

const startEngine = (btcBalance: string) =>
  Effect.gen(function*() {
    const exchange = yield* startExchange({ symbols: ["btcusdt"], speed: 5, balances: { USDT: "100000", BTC: btcBalance } })
    const journal = yield* journalHolding
    const errors: Array<string> = []
    const recordErrors = Layer.effectDiscard(Effect.flatMap(EventBus, (bus) =>
      bus.subscribe("Error", (e) => Effect.sync(() => void errors.push(e.payload.message)), { name: "test-errors" })))
    const engine = yield* Layer.build(Engine.layer({
      source: { _tag: "Binance", symbols: ["btcusdt"], wsUrl: exchange.wsUrl, restUrl: exchange.restUrl },
      strategy: Strategy.none,
      broker: {
        _tag: "Binance",
        urls: { restUrl: exchange.restUrl, wsApiUrl: exchange.wsApiUrl },
        key: { _tag: "Hmac", apiKey: Redacted.make(hmacKey.apiKey), secret: Redacted.make(hmacKey.secret) }
      },
      journal,
      metrics: false,
      plugins: recordErrors
    }))
    // the check's events are on the order and signal queues: let them be handled
    for (let i = 0; i < 40 && errors.length === 0; i++) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 25)))
    yield* Effect.promise(() => new Promise((r) => setTimeout(r, 100)))
    return { errors, summary: Engine.summarize(yield* Engine.snapshot(engine)) }
  }).pipe(Logger.withMinimumLogLevel(LogLevel.Error))

describe("the positions checked against the exchange's account at start", () => {
  it.live("the account holds less than the journal's position: reported, and the exchange's figure wins", () =>
    Effect.gen(function*() {
      const { errors, summary } = yield* startEngine("0.004")
      expect(errors).toHaveLength(1)
      expect(errors[0]).toContain("BTCUSDT: the journal holds 0.01 BTC")
      expect(errors[0]).toContain("0.004")
      expect(summary.positions.BTCUSDT).toBe("0.004")
      expect(summary.pnl.realized).toBe("-0.42") // the earlier fill's fee only: the correction makes no P&L
    }).pipe(Effect.scoped), 30_000)

  it.live("the account covers the position (it may hold more): nothing to say", () =>
    Effect.gen(function*() {
      const { errors, summary } = yield* startEngine("0.5")
      expect(errors).toEqual([])
      expect(summary.positions.BTCUSDT).toBe("0.01")
    }).pipe(Effect.scoped), 30_000)
})
