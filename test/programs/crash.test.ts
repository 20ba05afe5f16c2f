import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { formatDecimal } from "../../src/domain/Decimal.js"
import * as SqliteJournal from "../../src/layers/journal/SqliteJournal.js"
import { Journal } from "../../src/services/Journal.js"
import { startCli } from "../support/cli.js"
import { withRawSqlite } from "../support/journal.js"

// orders flow at once and the broker keeps each in flight for 20ms, so a kill finds some mid-way
const flags = ["--fast", "2", "--slow", "3", "--max-open-orders", "50", "--broker-latency", "20ms"]
const fastFeed = ["--speed", "1000"]

const sleep = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

/** What the journal holds: the pending events, and the outcomes of every order created. */
const inspect = (filename: string) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const pending = yield* journal.pending
    const created = new Set<string>()
    const outcomes = new Map<string, Set<string>>()
    const add = (id: string, outcome: string) => outcomes.set(id, (outcomes.get(id) ?? new Set()).add(outcome))
    for (const { event } of yield* journal.orderEvents) {
      if (event.type === "OrderCreated") created.add(event.payload.clientOrderId)
      // a recorded outcome returned again is the same payload; a second execution would differ (trade, time)
      if (event.type === "OrderFilled") add(event.payload.clientOrderId, `fill ${event.payload.tradeId} ${event.payload.filledAt}`)
      if (event.type === "OrderRejected") add(event.payload.clientOrderId, `rejected ${event.payload.updatedAt}`)
    }
    return { pending, created, outcomes }
  }).pipe(Effect.provide(SqliteJournal.layer({ filename, mustExist: true })))

describe("crash recovery of `trading-bus run`", () => {
  it.live("SIGKILLed three times while orders are in flight, then run to the end: every order has exactly one outcome", () =>
    Effect.gen(function*() {
      const journal = join(mkdtempSync(join(tmpdir(), "trading-bus-crash-")), "journal.db")
      let leftPending = 0
      for (const delay of [0, 150, 400]) {
        const cli = startCli(["run", "--journal", journal, "--status-interval", "100ms", ...fastFeed, ...flags])
        // the status line counts orders once the first ones are created
        yield* Effect.promise(() => waitForOrders(cli.child.stdout!, () => cli.finished))
        yield* sleep(delay)
        cli.child.kill("SIGKILL")
        const killed = yield* Effect.promise(() => cli.finished)
        expect(killed.signal).toBe("SIGKILL")
        const { pending } = yield* inspect(journal)
        leftPending += pending.length
      }
      // the kills happened with work in flight: the test is not vacuous
      expect(leftPending).toBeGreaterThan(0)

      // the last run recovers what the kills left, then trades at an easy pace and drains without a deadline to
      // race: how many orders a fast feed creates (each 20 ms at the broker) depends on the machine's speed
      const summaryFile = join(dirname(journal), "summary.json")
      const last = yield* Effect.promise(() =>
        startCli(
          ["run", "--journal", journal, "--duration", "3s", "--status-interval", "1s", "--summary-json", summaryFile, ...flags, "--speed", "100"],
          { TRADING_BUS_DRAIN_TIMEOUT: "2 minutes" }
        ).finished
      )
      expect(last.code).toBe(0)
      expect(last.stdout).toContain("run summary")
      expect(`${last.stdout}${last.stderr}`).not.toContain("events unhandled")

      const { created, outcomes, pending } = yield* inspect(journal)
      expect(pending).toEqual([])
      expect(created.size).toBeGreaterThan(0)
      const counts = [...created].map((id) => [id, outcomes.get(id)?.size ?? 0] as const)
      expect(counts.filter(([, n]) => n !== 1)).toEqual([])
      expect([...outcomes.keys()].filter((id) => !created.has(id))).toEqual([])

      // the positions the restarted run ends with are every journaled fill's, across the kills, read by SQLite itself
      const summary = JSON.parse(readFileSync(summaryFile, "utf8")) as { positions: Record<string, string> }
      const fromFile = positionsInFile(journal)
      expect(Object.keys(fromFile).length).toBeGreaterThan(0)
      expect(summary.positions).toEqual(fromFile)
    }), 60_000)
})

/** The fills in the journal file, each once (a recorded fill returned again is the same fill), netted per symbol. */
const positionsInFile = (filename: string): Record<string, string> =>
  withRawSqlite(filename, (db) => {
    const net = new Map<string, BigDecimal.BigDecimal>()
    const seen = new Set<string>()
    for (const row of db.prepare("SELECT payload FROM events WHERE type = 'OrderFilled' ORDER BY seq").all()) {
      const fill = JSON.parse(String(row.payload)) as { clientOrderId: string; tradeId: string; filledAt: number; symbol: string; side: string; quantity: string }
      const key = `${fill.clientOrderId} ${fill.tradeId} ${fill.filledAt}`
      if (seen.has(key)) continue
      seen.add(key)
      const quantity = BigDecimal.unsafeFromString(fill.quantity)
      const signed = fill.side === "BUY" ? quantity : BigDecimal.negate(quantity)
      net.set(fill.symbol, BigDecimal.sum(net.get(fill.symbol) ?? BigDecimal.fromBigInt(0n), signed))
    }
    return Object.fromEntries([...net].map(([symbol, q]) => [symbol, formatDecimal(BigDecimal.normalize(q))]))
  })

/** Resolves once a status line shows at least one order; rejects if the process ends first. */
const waitForOrders = (stdout: NodeJS.ReadableStream, finished: () => Promise<unknown>) =>
  new Promise<void>((resolve, reject) => {
    let seen = ""
    const onData = (chunk: Buffer | string) => {
      seen += String(chunk)
      if (/orders [1-9]/.test(seen)) {
        stdout.off("data", onData)
        resolve()
      }
    }
    stdout.on("data", onData)
    void finished().then(() => reject(new Error(`the run ended before any order:\n${seen}`)))
  })
