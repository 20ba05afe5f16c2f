import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer, Logger, LogLevel } from "effect"
import { type BusEvent, makeEventAt } from "../../../src/domain/BusEvent.js"
import { formatDecimal } from "../../../src/domain/Decimal.js"
import type { Fill, Order } from "../../../src/domain/Order.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as JournaledBroker from "../../../src/layers/execution/JournaledBroker.js"
import * as PaperBroker from "../../../src/layers/execution/PaperBroker.js"
import * as JournalHooks from "../../../src/layers/journal/JournalHooks.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import * as RiskOrderManager from "../../../src/layers/trading/RiskOrderManager.js"
import * as SmaCrossoverStrategy from "../../../src/layers/trading/SmaCrossoverStrategy.js"
import * as TradingEngine from "../../../src/layers/trading/TradingEngine.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { candleAt } from "../../support/fixtures.js"

// SMA 3/5: up (LONG), down (SHORT: closes the long), up again (LONG)
const series = [10, 10, 10, 10, 10, 11, 12, 13, 12, 11, 10, 9, 8, 9, 10, 11]

/** One run of the engine on the journal `filename`, as `trading-bus run --journal F --quote-amount Q` does. */
const runOnce = (filename: string, quoteAmount: string) =>
  Effect.gen(function*() {
    const orders: Array<Order> = []
    const fills: Array<Fill> = []
    const bus = MemoryEventBus.layer().pipe(Layer.provide(JournalHooks.layer))
    const layer = TradingEngine.layer.pipe(
      Layer.provideMerge(Layer.mergeAll(SmaCrossoverStrategy.layer({ fast: 3, slow: 5 }), RiskOrderManager.layer({ quoteAmount }))),
      Layer.provideMerge(Layer.mergeAll(bus, JournaledBroker.layer.pipe(Layer.provide(PaperBroker.layer())), MemoryPortfolio.layer)),
      Layer.provideMerge(SqliteJournal.layer({ filename }))
    )
    yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(layer)
      const eventBus = Context.get(context, EventBus)
      yield* eventBus.subscribe("OrderCreated", (e) => (orders.push(e.payload), Effect.void), { name: "test" })
      yield* eventBus.subscribe("OrderFilled", (e) => (fills.push(e.payload), Effect.void), { name: "test" })
      // the same candles with the same times in both runs, as two simulator runs with one seed give
      yield* eventBus.publishAll(
        series.map((c, i): BusEvent => makeEventAt("CandleClosed", candleAt(i, c), i, { source: "test" }))
      )
    }))
    return { orders, fills }
  }).pipe(Logger.withMinimumLogLevel(LogLevel.None))

describe("TradingEngine across runs on one journal", () => {
  // issue 10 §2: client order ids were `strategy-symbol-timestamp-counter`, the same in both runs, so the journal
  // handed the first run's fills (sized for a quote amount of 100) to the second run's orders (500)
  it.live("never gives a run the journaled fills of an earlier run's orders", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "trading-bus-runs-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const filename = join(dir, "journal.db")
      const first = yield* runOnce(filename, "100")
      const second = yield* runOnce(filename, "500")
      expect(first.fills.map((f) => formatDecimal(f.quantity))).toEqual(["9.090909", "9.090909", "9.090909"])
      expect(second.fills.map((f) => formatDecimal(f.quantity))).toEqual(["45.454545", "45.454545", "45.454545"])
      // each fill is its own order's, executed in its own run
      expect(second.fills.map((f) => f.clientOrderId)).toEqual(second.orders.map((o) => o.clientOrderId))
      const firstIds = new Set([...first.orders.map((o) => o.clientOrderId), ...first.fills.map((f) => f.tradeId)])
      expect([...second.orders.map((o) => o.clientOrderId), ...second.fills.map((f) => f.tradeId)].filter((id) => firstIds.has(id)))
        .toEqual([])
    }).pipe(Effect.scoped))
})
