import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer } from "effect"
import { makeEventAt } from "../../../src/domain/BusEvent.js"
import * as JournalHooks from "../../../src/layers/journal/JournalHooks.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as MetricsServer from "../../../src/layers/observability/MetricsServer.js"
import * as SqliteJournal from "../../../src/layers/journal/SqliteJournal.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { MarketData } from "../../../src/services/MarketData.js"
import { order, settle } from "../../support/fixtures.js"
import { parse, valueOf } from "../../support/Prometheus.js"

const connectedSource = Layer.succeed(MarketData, {
  name: "journal-test",
  stats: Effect.succeed({ messages: 0, malformed: 0, reconnects: 0, backfilled: 0, candles: 0, connected: true })
})

describe("MetricsServer with a journal", () => {
  it.scopedLive("exports the journal's pending count as trading_bus_journal_pending", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        MetricsServer.layer({ port: 0 }).pipe(
          Layer.provideMerge(Layer.merge(MemoryEventBus.layer(), connectedSource)),
          Layer.provideMerge(JournalHooks.layer),
          Layer.provideMerge(SqliteJournal.layer({ filename: ":memory:" }))
        )
      )
      const bus = Context.get(context, EventBus)
      const { url } = Context.get(context, MetricsServer.MetricsServer)
      const release = yield* Deferred.make<void>()
      yield* bus.subscribe("OrderCreated", () => Deferred.await(release))
      yield* bus.publishAll([makeEventAt("OrderCreated", order("a"), 0), makeEventAt("OrderCreated", order("b"), 0)])
      yield* settle
      const pending = Effect.promise(() => fetch(`${url}/metrics`).then((r) => r.text())).pipe(
        Effect.map((text) => valueOf(parse(text), "trading_bus_journal_pending"))
      )
      expect(yield* pending).toBe(2)
      yield* Deferred.succeed(release, undefined)
      yield* settle
      expect(yield* pending).toBe(0)
    }))
})
