import { NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Context, Deferred, Effect, Layer, Logger, LogLevel } from "effect"
import { makeEvent } from "../../../src/domain/BusEvent.js"
import type { Order } from "../../../src/domain/Order.js"
import * as BinanceMarketData from "../../../src/layers/market/BinanceMarketData.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as MemoryPortfolio from "../../../src/layers/trading/MemoryPortfolio.js"
import * as MetricsServer from "../../../src/layers/observability/MetricsServer.js"
import * as PaperBroker from "../../../src/layers/execution/PaperBroker.js"
import * as TradingEngine from "../../../src/layers/trading/TradingEngine.js"
import * as Engine from "../../../src/layers/engine/Engine.js"
import * as SmaCrossoverStrategy from "../../../src/layers/trading/SmaCrossoverStrategy.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { MarketData } from "../../../src/services/MarketData.js"
import * as BinanceTestServer from "../../support/BinanceTestServer.js"
import { klineFrame, minute, t0 } from "../../support/BinanceTestServer.js"
import { parse, samplesOf, valueOf } from "../../support/Prometheus.js"

const get = (url: string) =>
  Effect.promise(async () => {
    const res = await fetch(url)
    return { status: res.status, contentType: res.headers.get("content-type"), body: await res.text() }
  })

const scrape = (server: MetricsServer.MetricsServer["Type"]) =>
  Effect.map(get(`${server.url}/metrics`), (res) => ({ ...res, families: parse(res.body) }))

/** Retries `check` every 50 ms until it returns a value, for at most `seconds`. */
/** A metrics server on port 0 over a bus and a Binance collector for BTCUSDT 1m with these options. */
const serveCollector = (options: Omit<BinanceMarketData.BinanceMarketDataOptions, "symbols" | "interval">) =>
  Layer.build(
    MetricsServer.layer({ port: 0 }).pipe(
      Layer.provideMerge(
        BinanceMarketData.layer({ symbols: ["btcusdt"], interval: "1m", ...options }).pipe(
          Layer.provide(Layer.mergeAll(NodeSocket.layerWebSocketConstructor, NodeHttpClient.layerUndici))
        )
      ),
      Layer.provideMerge(MemoryEventBus.layer()),
      Layer.provide(quiet)
    )
  )

const eventually = <A>(check: Effect.Effect<A | undefined>, seconds = 10) =>
  Effect.gen(function*() {
    const deadline = Date.now() + seconds * 1000
    while (true) {
      const a = yield* check
      if (a !== undefined) return a
      if (Date.now() > deadline) return yield* Effect.dieMessage("condition not met in time")
      yield* Effect.sleep("50 millis")
    }
  })

const sum = (values: ReadonlyArray<{ readonly value: number }>) => values.reduce((a, s) => a + s.value, 0)

const quiet = Logger.minimumLogLevel(LogLevel.None)

const marketDataStub = (connected: boolean) =>
  Layer.succeed(
    MarketData,
    MarketData.of({
      name: "stub",
      stats: Effect.succeed({ messages: 0, malformed: 0, reconnects: 0, backfilled: 0, candles: 0, connected })
    })
  )

describe("MetricsServer", () => {
  it.scopedLive("serves moving metrics and health while the engine runs on the simulator", () =>
    Effect.gen(function*() {
      const engine = Engine.layer({
        source: { _tag: "Simulator", symbols: ["btcusdt", "ethusdt"], seed: 7, speed: 200 },
        strategy: Layer.orDie(SmaCrossoverStrategy.layer({ fast: 2, slow: 5 })),
        journal: false,
        metrics: false
      })
      const context = yield* Layer.build(
        MetricsServer.layer({ port: 0 }).pipe(Layer.provideMerge(engine), Layer.provide(quiet))
      )
      const server = Context.get(context, MetricsServer.MetricsServer)
      expect(server.port).toBeGreaterThan(0)
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`)

      const ready = yield* eventually(
        Effect.map(get(`${server.url}/health/ready`), (r) => r.status === 200 ? r : undefined)
      )
      expect(JSON.parse(ready.body)).toEqual({ status: "ready", checks: { collector: "connected", queues: {} } })
      expect((yield* get(`${server.url}/health/live`)).status).toBe(200)
      expect((yield* get(`${server.url}/nope`)).status).toBe(404)

      const first = yield* scrape(server)
      expect(first.status).toBe(200)
      expect(first.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
      // wait for the pipeline to trade: signals and orders appear
      const second = yield* eventually(Effect.map(scrape(server), (s) => {
        const messages = valueOf(s.families, "trading_bus_collector_messages_total", { source: "simulator" }) ?? 0
        const firstMessages = valueOf(first.families, "trading_bus_collector_messages_total", { source: "simulator" }) ?? 0
        const signals = sum(samplesOf(s.families, "trading_bus_signals_total"))
        const filled = sum(samplesOf(s.families, "trading_bus_orders_total").filter((x) => x.labels["status"] === "filled"))
        return messages > firstMessages && signals > 0 && filled > 0 ? s : undefined
      }))
      const f = second.families
      expect(valueOf(f, "trading_bus_collector_connected", { source: "simulator" })).toBe(1)
      for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
        expect(valueOf(f, "trading_bus_candle_lag_seconds", { symbol })).toBeTypeOf("number")
      }
      // long-only: a symbol has a position gauge once one of its buys filled (every counter is there from the start, at 0)
      const bought = new Set(
        samplesOf(f, "trading_bus_orders_total").filter((s) => s.labels["status"] === "filled" && s.labels["side"] === "BUY" && s.value > 0)
          .map((s) => s.labels["symbol"]!)
      )
      expect(bought.size).toBeGreaterThan(0)
      for (const symbol of bought) expect(valueOf(f, "trading_bus_position", { symbol })).toBeTypeOf("number")
      for (const queue of ["data", "signal", "order"]) {
        expect(valueOf(f, "trading_bus_queue_capacity", { queue })).toBeGreaterThan(0)
        expect(valueOf(f, "trading_bus_queue_size", { queue })).toBeGreaterThanOrEqual(0)
      }
      expect(samplesOf(f, "trading_bus_signals_total").every((s) => ["LONG", "SHORT", "CLOSE"].includes(s.labels["direction"]!)))
        .toBe(true)
      const created = sum(samplesOf(f, "trading_bus_orders_total").filter((s) => s.labels["status"] === "created"))
      expect(created).toBeGreaterThan(0)
      expect(samplesOf(f, "trading_bus_orders_total").every((s) => ["BUY", "SELL"].includes(s.labels["side"]!))).toBe(true)
      expect(valueOf(f, "trading_bus_pnl_realized")).toBeTypeOf("number")
      expect(valueOf(f, "trading_bus_pnl_unrealized")).toBeTypeOf("number")
      expect(second.body).toContain("# HELP trading_bus_candle_lag_seconds ")
    }), { timeout: 30_000 })

  it.scopedLive("is not ready while a queue is above 90 % of its capacity", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        MetricsServer.layer({ port: 0 }).pipe(
          Layer.provideMerge(Layer.merge(
            MemoryEventBus.layer({ signalCapacity: 10, signalPublishTimeout: "5 millis", drainTimeout: "5 seconds" }),
            marketDataStub(true)
          )),
          Layer.provide(quiet)
        )
      )
      const server = Context.get(context, MetricsServer.MetricsServer)
      const bus = Context.get(context, EventBus)
      const release = yield* Deferred.make<void>()
      yield* bus.subscribe("SignalGenerated", () => Deferred.await(release))
      // released before the bus drains (finalizers run last-added first)
      yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined))

      expect((yield* get(`${server.url}/health/ready`)).status).toBe(200)
      for (let i = 0; i < 30; i++) {
        const signal = { symbol: "BTCUSDT", direction: "LONG", price: 1, strategy: "test", reason: "test", timestamp: i } as const
        yield* Effect.either(Effect.flatMap(makeEvent("SignalGenerated", signal), (e) => bus.publish(e)))
      }
      expect((yield* bus.stats).signal.size).toBe(10)
      const res = yield* get(`${server.url}/health/ready`)
      expect(res.status).toBe(503)
      expect(res.contentType).toContain("application/json")
      expect(JSON.parse(res.body)).toEqual({
        status: "not ready",
        checks: { collector: "connected", queues: { signal: "10/10" } }
      })
      expect((yield* get(`${server.url}/health/live`)).status).toBe(200)
      const metrics = yield* scrape(server)
      expect(valueOf(metrics.families, "trading_bus_queue_size", { queue: "signal" })).toBe(10)
      expect(valueOf(metrics.families, "trading_bus_queue_capacity", { queue: "signal" })).toBe(10)
    }), { timeout: 30_000 })

  it.scopedLive("is not ready while the collector is disconnected", () =>
    Effect.gen(function*() {
      const context = yield* serveCollector({
        wsUrl: "ws://127.0.0.1:1",
        restUrl: "http://127.0.0.1:1",
        openTimeout: "1 second"
      })
      const server = Context.get(context, MetricsServer.MetricsServer)
      const res = yield* get(`${server.url}/health/ready`)
      expect(res.status).toBe(503)
      expect(JSON.parse(res.body)).toEqual({ status: "not ready", checks: { collector: "disconnected", queues: {} } })
      expect((yield* get(`${server.url}/health/live`)).status).toBe(200)
      const metrics = yield* scrape(server)
      expect(valueOf(metrics.families, "trading_bus_collector_connected", { source: "binance" })).toBe(0)
    }), { timeout: 30_000 })

  it.scopedLive("fails with ServeError when the port is taken, and stops listening when its scope closes", () =>
    Effect.gen(function*() {
      const deps = Layer.merge(MemoryEventBus.layer(), marketDataStub(true))
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const server = Context.get(
          yield* Layer.build(MetricsServer.layer({ port: 0 }).pipe(Layer.provide(deps), Layer.provide(quiet))),
          MetricsServer.MetricsServer
        )
        const taken = yield* Effect.flip(
          Layer.build(MetricsServer.layer({ port: server.port }).pipe(Layer.provide(deps), Layer.provide(quiet)))
        )
        expect(taken._tag).toBe("ServeError")
        return server
      }))
      const after = yield* Effect.either(Effect.tryPromise(() => fetch(`${first.url}/health/live`)))
      expect(after._tag).toBe("Left")
    }), { timeout: 30_000 })

  it.scopedLive("counts the collector's frames, malformed frames and reconnects, and sets the lag and connected gauges", () =>
    Effect.gen(function*() {
      const exchange = yield* BinanceTestServer.make
      const context = yield* serveCollector({
        wsUrl: exchange.wsUrl,
        restUrl: exchange.restUrl,
        backoffBase: "20 millis",
        backoffMax: "50 millis"
      })
      const server = Context.get(context, MetricsServer.MetricsServer)
      const marketData = Context.get(context, MarketData)
      const conn1 = yield* Effect.timeout(exchange.nextConnection, "5 seconds")
      yield* eventually(Effect.map(marketData.stats, (s) => s.connected || undefined))
      const source = { source: "binance" }
      const value = (f: ReturnType<typeof parse>, name: string) => valueOf(f, name, source) ?? 0
      const before = (yield* scrape(server)).families

      yield* conn1.send("not json {", { stream: "nope", data: {} }, klineFrame({ symbol: "btcusdt", openTime: t0, closed: true }))
      yield* eventually(Effect.map(marketData.stats, (s) => s.candles === 1 || undefined))
      const closedAt = Date.now()
      const afterFrames = (yield* scrape(server)).families
      expect(value(afterFrames, "trading_bus_collector_messages_total") - value(before, "trading_bus_collector_messages_total"))
        .toBe(3)
      expect(value(afterFrames, "trading_bus_collector_malformed_total") - value(before, "trading_bus_collector_malformed_total"))
        .toBe(2)
      const lag = valueOf(afterFrames, "trading_bus_candle_lag_seconds", { symbol: "BTCUSDT" })!
      const expected = (closedAt - (t0 + minute - 1)) / 1000
      expect(Math.abs(lag - expected)).toBeLessThan(5)
      expect(value(afterFrames, "trading_bus_collector_connected")).toBe(1)

      yield* conn1.drop
      yield* Effect.timeout(exchange.nextConnection, "5 seconds")
      yield* eventually(Effect.map(marketData.stats, (s) => s.reconnects === 1 && s.connected || undefined))
      const afterReconnect = (yield* scrape(server)).families
      expect(
        value(afterReconnect, "trading_bus_collector_reconnects_total") -
          value(before, "trading_bus_collector_reconnects_total")
      ).toBe(1)
      expect(value(afterReconnect, "trading_bus_collector_connected")).toBe(1)
    }), { timeout: 30_000 })

  it.scopedLive("counts the engine's signals and orders by their labels and sets position and P&L", () =>
    Effect.gen(function*() {
      const engine = TradingEngine.layer.pipe(
        Layer.provideMerge(Layer.merge(MemoryPortfolio.layer, PaperBroker.layer({ feeBps: 0, slippageBps: 0 }))),
        Layer.provideMerge(MemoryEventBus.layer())
      )
      const context = yield* Layer.build(
        MetricsServer.layer({ port: 0 }).pipe(Layer.provideMerge(Layer.merge(engine, marketDataStub(true))), Layer.provide(quiet))
      )
      const server = Context.get(context, MetricsServer.MetricsServer)
      const bus = Context.get(context, EventBus)
      const symbol = `T${Date.now()}` // metrics are global: a symbol of this test's own
      const signal = { symbol, direction: "SHORT", price: 10, strategy: "test", reason: "test", timestamp: 1 } as const
      const order: Order = {
        clientOrderId: `${symbol}-1`,
        symbol,
        side: "BUY",
        type: "MARKET",
        quantity: BigDecimal.unsafeFromString("2.5"),
        price: BigDecimal.unsafeFromString("10"),
        status: "NEW",
        createdAt: 1,
        updatedAt: 1
      }
      yield* Effect.flatMap(makeEvent("SignalGenerated", signal), (e) => bus.publish(e))
      yield* Effect.flatMap(makeEvent("OrderCreated", order), (e) => bus.publish(e))
      yield* Effect.flatMap(
        makeEvent("OrderRejected", { ...order, clientOrderId: `${symbol}-2`, side: "SELL", status: "REJECTED" }),
        (e) => bus.publish(e)
      )
      const f = yield* eventually(Effect.map(scrape(server), (s) =>
        valueOf(s.families, "trading_bus_position", { symbol }) === 2.5 ? s.families : undefined))
      expect(valueOf(f, "trading_bus_signals_total", { symbol, direction: "SHORT" })).toBe(1)
      expect(valueOf(f, "trading_bus_orders_total", { symbol, side: "BUY", status: "created" })).toBe(1)
      expect(valueOf(f, "trading_bus_orders_total", { symbol, side: "BUY", status: "filled" })).toBe(1)
      expect(valueOf(f, "trading_bus_orders_total", { symbol, side: "SELL", status: "rejected" })).toBe(1)
      expect(valueOf(f, "trading_bus_pnl_realized")).toBe(0)
      expect(valueOf(f, "trading_bus_pnl_unrealized")).toBe(0)
    }), { timeout: 30_000 })
})
