/**
 * `trading-bus run --broker binance` SIGKILLed between sending an order and its answer, restarted on the same
 * journal: the order is found on the exchange, not placed again, and gets its one outcome.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { runCli, startCli } from "../support/cli.js"
import { withRawSqlite } from "../support/journal.js"
import { hmacKey, startExchange } from "../support/simulatorTrading.js"

const pause = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

describe("a crash between an order's send and its answer", () => {
  it.live("restarted on the same journal, the order is found, not placed again", () =>
    Effect.gen(function*() {
      const exchange = yield* startExchange({ symbols: ["btcusdt"], speed: 20, balances: { USDT: "100000" } })
      // the exchange accepts the first order and holds its answer: the engine waits for it when it is killed
      yield* exchange.control.holdOrderResponses(1, 120_000)
      const journal = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "binance-crash-")), "journal.db")
      const args = [
        "run",
        "--broker", "binance",
        "--rest-url", exchange.restUrl,
        "--ws-api-url", exchange.wsApiUrl,
        "--ws-url", exchange.wsUrl,
        "--symbols", "btcusdt",
        "--strategy", "test/fixtures/strategy/every-nth.ts",
        "--param", "every=3",
        "--journal", journal
      ]
      const env = { BINANCE_API_KEY: hmacKey.apiKey, BINANCE_API_SECRET: hmacKey.secret }

      const first = startCli(args, env)
      let held: string | undefined
      for (let waited = 0; held === undefined && waited < 30_000; waited += 25) {
        held = (yield* exchange.control.orders)[0]?.clientOrderId
        if (held === undefined) yield* pause(25)
      }
      first.child.kill("SIGKILL")
      const killed = yield* Effect.promise(() => first.finished)
      expect(held, killed.stderr).toBeDefined()
      expect(killed.signal).toBe("SIGKILL")
      // what the crash left: the order journaled and sent, with no outcome
      withRawSqlite(journal, (db) => {
        expect(db.prepare("SELECT step FROM order_steps WHERE client_order_id = ?").all(held).map((r) => r.step)).toEqual(["sending"])
        expect(db.prepare("SELECT count(*) AS n FROM events WHERE client_order_id = ? AND type = 'OrderFilled'").all(held)[0]!.n).toBe(0)
      })

      const second = yield* Effect.promise(() => runCli([...args, "--duration", "4s"], env))
      expect(second.code, second.stderr).toBe(0)
      const onExchange = yield* exchange.control.orders
      const counts = new Map<string, number>()
      for (const o of onExchange) counts.set(o.clientOrderId, (counts.get(o.clientOrderId) ?? 0) + 1)
      expect(counts.get(held!)).toBe(1)
      for (const [id, n] of counts) expect(n, id).toBe(1)
      withRawSqlite(journal, (db) => {
        // asked for after the restart, never sent again: still one "sending"
        const steps = db.prepare("SELECT step FROM order_steps WHERE client_order_id = ? ORDER BY seq").all(held).map((r) => r.step)
        expect(steps.filter((s) => s === "sending")).toHaveLength(1)
        expect(steps).toContain("ended")
        const fills = db.prepare("SELECT payload FROM events WHERE client_order_id = ? AND type = 'OrderFilled'").all(held)
          .map((r) => JSON.parse(String(r.payload)) as { status: string; quantity: string })
        expect(fills.map((f) => f.status)).toEqual(["FILLED"])
        expect(Number(fills[0]!.quantity)).toBe(Number(onExchange.find((o) => o.clientOrderId === held)!.executedQty))
        // the OrderCreated the crash left pending was handled
        expect(db.prepare("SELECT count(*) AS n FROM events WHERE client_order_id = ? AND type = 'OrderCreated' AND done = 0").all(held)[0]!.n)
          .toBe(0)
      })
    }).pipe(Effect.scoped), 90_000)
})
