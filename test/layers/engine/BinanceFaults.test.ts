/**
 * The engine trading on the simulated exchange through `BinanceBroker`, real sockets on 127.0.0.1 and a real
 * SQLite journal, with each fault of issue 13 injected. Checked from the exchange's side (every clientOrderId
 * at most once), in the journal (every order the engine created has exactly one outcome) and in the portfolio
 * (the position is what the account holds).
 */
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Layer, Logger, LogLevel, Option, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Engine from "../../../src/layers/engine/Engine.js"
import type { SimulatorControl } from "../../../src/layers/market/SimulatedExchange.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { Strategy } from "../../../src/services/Strategy.js"
import { rawSqlite } from "../../support/journal.js"
import { hmacKey, startExchange } from "../../support/simulatorTrading.js"

/** LONG on odd candles, SHORT (sell what is held) on even ones: an order on each of the first `orders` candles. */
const alternate = (orders: number) =>
  Layer.sync(Strategy, () => {
    let n = 0
    return {
      name: "alt",
      analyze: (candle) =>
        Effect.sync(() =>
          ++n > orders ? Option.none() : Option.some({
            symbol: candle.symbol,
            direction: n % 2 === 1 ? "LONG" as const : "SHORT" as const,
            price: candle.close,
            timestamp: candle.closeTime,
            strategy: "alt",
            reason: `candle ${n}`
          })
        )
    }
  })

/** A real-time pause: the sockets and the engine work in real time here. */
const pause = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

interface JournalOrder {
  readonly id: string
  readonly outcomes: number
  readonly filled: BigDecimal.BigDecimal
}

/** Every order the journal holds as created, with how many outcomes it has and what filled. */
const journalOrders = (file: string): ReadonlyArray<JournalOrder> => {
  const db = rawSqlite(file)
  try {
    const rows = db.prepare("SELECT type, client_order_id AS id, payload FROM events WHERE client_order_id IS NOT NULL ORDER BY seq").all()
    const orders = new Map<string, { outcomes: number; filled: BigDecimal.BigDecimal }>()
    for (const row of rows) {
      const id = String(row.id)
      if (row.type === "OrderCreated") orders.set(id, orders.get(id) ?? { outcomes: 0, filled: BigDecimal.make(0n, 0) })
      const o = orders.get(id)
      if (o === undefined) continue
      const payload = JSON.parse(String(row.payload)) as { status: string; quantity: string }
      if (row.type === "OrderFilled") o.filled = BigDecimal.sum(o.filled, BigDecimal.unsafeFromString(payload.quantity))
      if ((row.type === "OrderFilled" && payload.status === "FILLED") || row.type === "OrderRejected" || row.type === "OrderCancelled") {
        o.outcomes++
      }
    }
    return [...orders].map(([id, o]) => ({ id, ...o }))
  } finally {
    db.close()
  }
}

/**
 * Runs the engine on a fresh exchange with `fault` injected before the first order, until `orders` orders have an
 * outcome, closes it (drain), and checks the three views agree.
 */
const tradeThrough = (fault: (control: SimulatorControl) => Effect.Effect<void>, orders = 4) =>
  Effect.gen(function*() {
    const exchange = yield* startExchange({ symbols: ["btcusdt"], speed: 20, balances: { USDT: "100000" } })
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "binance-faults-"))
    const journal = Path.join(dir, "journal.db")
    yield* fault(exchange.control)
    // outcomes as the bus carries them (a part filled before the last is not one)
    let outcomes = 0
    const countOutcomes = Layer.effectDiscard(Effect.gen(function*() {
      const bus = yield* EventBus
      const count = () => Effect.sync(() => void outcomes++)
      yield* bus.subscribe("OrderFilled", (e) => e.payload.status === "FILLED" ? count() : Effect.void, { name: "test-outcomes" })
      yield* bus.subscribe("OrderRejected", count, { name: "test-outcomes" })
      yield* bus.subscribe("OrderCancelled", count, { name: "test-outcomes" })
    }))
    yield* Effect.scoped(Effect.gen(function*() {
      yield* Layer.build(Engine.layer({
        source: { _tag: "Binance", symbols: ["btcusdt"], wsUrl: exchange.wsUrl, restUrl: exchange.restUrl },
        strategy: alternate(orders),
        broker: {
          _tag: "Binance",
          urls: { restUrl: exchange.restUrl, wsApiUrl: exchange.wsApiUrl },
          key: { _tag: "Hmac", apiKey: Redacted.make(hmacKey.apiKey), secret: Redacted.make(hmacKey.secret) },
          timing: { requestTimeout: "2 seconds", notFoundGrace: "1 second", queryInterval: "50 millis", maxQueryInterval: "400 millis" }
        },
        journal,
        metrics: false,
        plugins: countOutcomes
      }))
      for (let waited = 0; waited < 30_000 && outcomes < orders; waited += 50) yield* pause(50)
    }))
    const onExchange = yield* exchange.control.orders
    const counts = new Map<string, number>()
    for (const o of onExchange) counts.set(o.clientOrderId, (counts.get(o.clientOrderId) ?? 0) + 1)
    const inJournal = journalOrders(journal)
    const balances = yield* exchange.control.balances
    return { counts, inJournal, balances, journal, onExchange }
  }).pipe(Logger.withMinimumLogLevel(LogLevel.Error))

const checkAgreement = (result: Effect.Effect.Success<ReturnType<typeof tradeThrough>>, minimumOrders: number) => {
  const { balances, counts, inJournal, onExchange } = result
  // the exchange never holds an id twice
  for (const [id, n] of counts) expect(n, id).toBe(1)
  expect(inJournal.length).toBeGreaterThanOrEqual(minimumOrders)
  for (const o of inJournal) {
    // exactly one outcome each, and what the journal filled is what the exchange executed
    expect(o.outcomes, o.id).toBe(1)
    const placed = onExchange.find((e) => e.clientOrderId === o.id)
    const executed = placed === undefined ? BigDecimal.make(0n, 0) : BigDecimal.unsafeFromString(placed.executedQty)
    expect(BigDecimal.format(BigDecimal.normalize(o.filled)), o.id).toBe(BigDecimal.format(BigDecimal.normalize(executed)))
  }
  return balances
}

/** The position the journal's fills add up to (what a restart rebuilds) against what the account holds. */
const positionMatchesAccount = (journal: string, btc: string) => {
  const db = rawSqlite(journal)
  try {
    let position = BigDecimal.make(0n, 0)
    for (const row of db.prepare("SELECT payload FROM events WHERE type = 'OrderFilled'").all()) {
      const f = JSON.parse(String(row.payload)) as { side: string; quantity: string; netQuantity?: string }
      const q = BigDecimal.unsafeFromString(f.netQuantity ?? f.quantity)
      position = f.side === "BUY" ? BigDecimal.sum(position, q) : BigDecimal.subtract(position, q)
    }
    expect(BigDecimal.format(BigDecimal.normalize(position))).toBe(BigDecimal.format(BigDecimal.normalize(BigDecimal.unsafeFromString(btc))))
  } finally {
    db.close()
  }
}

const btcOf = (balances: Readonly<Record<string, { readonly free: string; readonly locked: string }>>) => {
  const b = balances.BTC
  return b === undefined ? "0" : BigDecimal.format(BigDecimal.sum(BigDecimal.unsafeFromString(b.free), BigDecimal.unsafeFromString(b.locked)))
}

describe("the engine trading through BinanceBroker, with the exchange misbehaving", () => {
  /** How many of each journaled step (and of parts filled before the last) show that the fault happened. */
  type Seen = Partial<Record<"unknown" | "not-found" | "parts", number>>
  const cases: ReadonlyArray<readonly [string, (control: SimulatorControl) => Effect.Effect<void>, Seen]> = [
    ["no fault", () => Effect.void, { unknown: 0, "not-found": 0, parts: 0 }],
    ["accepted, then the response dropped", (c) => c.dropOrderResponses(2), { unknown: 2, "not-found": 0 }],
    ["accepted, then 503 (-1007: status unknown)", (c) => c.failAfterAccepting(2, 503), { unknown: 2, "not-found": 0 }],
    ["the request lost before the exchange saw it", (c) => c.dropOrderRequests(1), { unknown: 1, "not-found": 1 }],
    ["the exchange's clock 3 s ahead (-1021, resync)", (c) => c.skewClock(3_000), { unknown: 0 }],
    ["429 with Retry-After", (c) => c.rateLimit({ count: 2, retryAfterSeconds: 1 }), { unknown: 0 }],
    ["418 with Retry-After", (c) => c.rateLimit({ count: 1, retryAfterSeconds: 1, status: 418 }), { unknown: 0 }],
    ["MARKET orders filled in parts", (c) => c.fillMarketInParts(3), { parts: 4 }],
    [
      "the user-data socket dropped mid-fill (reconnect, resubscribe, reconcile)",
      (c) => Effect.zipRight(c.fillMarketInParts(3), c.dropUserDataOnPartialFill),
      { parts: 4 }
    ]
  ]
  for (const [name, fault, seen] of cases) {
    it.live(name, () =>
      Effect.gen(function*() {
        const result = yield* tradeThrough(fault)
        const balances = checkAgreement(result, 4)
        positionMatchesAccount(result.journal, btcOf(balances))
        const db = rawSqlite(result.journal)
        try {
          const count = (sql: string) => Number(db.prepare(sql).all()[0]!.n)
          for (const [what, n] of Object.entries(seen)) {
            const found = what === "parts"
              ? count("SELECT count(*) AS n FROM events WHERE type = 'OrderFilled' AND json_extract(payload, '$.status') = 'PARTIALLY_FILLED'")
              : count(`SELECT count(*) AS n FROM order_steps WHERE step = '${what}'`)
            if (n === 0) expect(found, what).toBe(0)
            else expect(found, what).toBeGreaterThanOrEqual(n)
          }
        } finally {
          db.close()
        }
      }).pipe(Effect.scoped), 60_000)
  }
})
