import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Context, Deferred, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll } from "vitest"
import { makeEvent } from "../../../src/domain/BusEvent.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import * as RedisEventBus from "../../../src/layers/bus/RedisEventBus.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { redisSkipReason, type RedisServer, startRedis } from "../../support/redis.js"
import { busContract } from "../../services/EventBusContract.js"

const skip = redisSkipReason()
let redis: RedisServer | undefined
let namespaces = 0
const freshNamespace = () => `test-${process.pid}-${Date.now()}-${namespaces++}`

busContract("MemoryEventBus", (config) => MemoryEventBus.layer(config))

describe.skipIf(skip !== undefined)(`RedisEventBus on a real redis-server${skip === undefined ? "" : ` (skipped: ${skip})`}`, () => {
  beforeAll(async () => {
    redis = await startRedis()
  }, 30_000)
  afterAll(async () => {
    await redis?.stop()
  })

  busContract("RedisEventBus", (config) =>
    Layer.suspend(() => RedisEventBus.layer({ url: redis!.url, namespace: freshNamespace(), partitions: 2, ...config })))

  const open = (options: Partial<RedisEventBus.RedisEventBusOptions>) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(RedisEventBus.layer({ url: redis!.url, namespace: "x", ...options }), scope)
      return { bus: Context.get(context, EventBus), scope }
    })

  const order = (i: number, symbol: string) =>
    makeEvent("OrderCreated", {
      clientOrderId: `${symbol}-${i}`, symbol, side: "BUY", type: "MARKET",
      quantity: BigDecimal.unsafeFromString("0.001"), price: BigDecimal.unsafeFromString("100.25"), status: "NEW", createdAt: i, updatedAt: i
    })

  const until = (check: Effect.Effect<boolean>, seconds = 15) =>
    Effect.gen(function*() {
      const deadline = Date.now() + seconds * 1000
      while (!(yield* check)) {
        if (Date.now() > deadline) return yield* Effect.dieMessage("condition not met in time")
        yield* Effect.sleep("20 millis")
      }
    })

  it.live("keeps each symbol's events in order across partitions, and money exact over the wire", () =>
    Effect.gen(function*() {
      const namespace = freshNamespace()
      const { bus, scope } = yield* open({ namespace, partitions: 4 })
      const seen = new Map<string, Array<string>>()
      yield* bus.subscribe("OrderCreated", (e) =>
        Effect.sync(() => {
          const list = seen.get(e.payload.symbol) ?? []
          list.push(`${e.payload.clientOrderId} ${BigDecimal.format(e.payload.price)}`)
          seen.set(e.payload.symbol, list)
        }))
      const symbols = ["BTCUSDT", "ETHUSDT", "ADABTC", "XRPETH", "SOLUSDT"]
      const events = []
      for (let i = 0; i < 20; i++) for (const s of symbols) events.push(yield* order(i, s))
      yield* bus.publishAll(events)
      yield* until(Effect.map(bus.stats, (s) => s.order.processed === 100))
      for (const s of symbols) {
        expect(seen.get(s)).toEqual(Array.from({ length: 20 }, (_, i) => `${s}-${i} 100.25`))
      }
      expect(new Set(symbols.map((s) => RedisEventBus.partitionOf(s, 4))).size).toBeGreaterThan(1)
      yield* Scope.close(scope, Exit.void)
    }), 30_000)

  it.live("an entry that does not decode is dead-lettered with its raw form and acknowledged, and the next ones are handled", () =>
    Effect.gen(function*() {
      const namespace = freshNamespace()
      const { bus, scope } = yield* open({ namespace })
      const handled: Array<string> = []
      yield* bus.subscribe("OrderCreated", (e) => Effect.sync(() => void handled.push(e.payload.clientOrderId)))
      const { execFileSync } = yield* Effect.promise(() => import("node:child_process"))
      execFileSync("redis-cli", ["-p", String(redis!.port), "XADD", `${namespace}:order:0`, "*", "e", "{not json"])
      yield* bus.publish(yield* order(1, "BTCUSDT"))
      yield* until(Effect.map(bus.stats, (s) => s.order.processed === 1))
      const stats = (yield* bus.stats).order as RedisEventBus.RedisQueueStats
      expect(handled).toEqual(["BTCUSDT-1"])
      expect(stats.undecodable).toBe(1)
      expect(stats.pending).toBe(0)
      expect(stats.size).toBe(0)
      // kept in Redis with its raw form and why (no dead-letter store in the context)
      const letter = execFileSync("redis-cli", ["-p", String(redis!.port), "XRANGE", `${namespace}:dead-letters`, "-", "+"], { encoding: "utf8" })
      expect(letter).toContain("{not json")
      expect(letter).toContain(`${namespace}:order:0`)
      yield* Scope.close(scope, Exit.void)
    }), 30_000)

  it.live("an owner that dies mid-order leaves it pending; another takes the partition after leaseTimeout and handles it", () =>
    Effect.gen(function*() {
      const namespace = freshNamespace()
      const options = { namespace, partitions: 2, leaseTimeout: "1 second", drainTimeout: "100 millis" } as const
      const first = yield* open({ ...options, consumer: "first", abandonLeasesOnClose: true })
      const stuck = yield* Deferred.make<void>()
      yield* first.bus.subscribe("OrderCreated", () => Deferred.await(stuck)) // never finishes: it "crashes" in it
      // publishers of their own: the dying process's connection goes with it
      const publisher = yield* open({ ...options, consumer: "publisher", publishOnly: true })
      yield* publisher.bus.publish(yield* order(1, "BTCUSDT"))
      yield* until(Effect.map(first.bus.stats, (s) => (s.order as RedisEventBus.RedisQueueStats).pending === 1))
      yield* Scope.close(first.scope, Exit.void) // leases abandoned, the entry still pending

      const handled: Array<string> = []
      const started = Date.now()
      const second = yield* open({ ...options, consumer: "second" })
      yield* second.bus.subscribe("OrderCreated", (e) => Effect.sync(() => void handled.push(e.payload.clientOrderId)))
      yield* publisher.bus.publish(yield* order(2, "BTCUSDT"))
      yield* until(Effect.sync(() => handled.length === 2), 10)
      expect(handled).toEqual(["BTCUSDT-1", "BTCUSDT-2"]) // the pending one first: per-symbol order holds
      expect(Date.now() - started).toBeLessThan(1000 + 5000)
      const stats = (yield* second.bus.stats).order as RedisEventBus.RedisQueueStats
      expect(stats.owned).toEqual([0, 1])
      expect(stats.pending).toBe(0)
      yield* Scope.close(second.scope, Exit.void)
      yield* Scope.close(publisher.scope, Exit.void)
    }), 30_000)

  it.live("two engines share the partitions; when one closes, it releases its leases and the other takes them at once", () =>
    Effect.gen(function*() {
      const namespace = freshNamespace()
      const options = { namespace, partitions: 4, leaseTimeout: "600 millis" } as const
      const a = yield* open({ ...options, consumer: "a" })
      const b = yield* open({ ...options, consumer: "b" })
      const owned = (bus: EventBus["Type"]) => Effect.map(bus.stats, (s) => (s.data as RedisEventBus.RedisQueueStats).owned)
      yield* until(Effect.map(Effect.all([owned(a.bus), owned(b.bus)]), ([x, y]) => x.length === 2 && y.length === 2))
      yield* Scope.close(a.scope, Exit.void)
      yield* until(Effect.map(owned(b.bus), (x) => x.length === 4), 5)
      yield* Scope.close(b.scope, Exit.void)
    }), 30_000)

  it.live("an order publish waits out a Redis restart (AOF on) and loses nothing that was acknowledged", () =>
    Effect.gen(function*() {
      const namespace = freshNamespace()
      const { bus, scope } = yield* open({ namespace })
      const handled: Array<string> = []
      yield* bus.subscribe("OrderCreated", (e) => Effect.sync(() => void handled.push(e.payload.clientOrderId)))
      yield* bus.publish(yield* order(1, "BTCUSDT"))
      yield* until(Effect.sync(() => handled.length === 1))
      const restarting = yield* Effect.fork(Effect.promise(() => redis!.restart(700)))
      yield* Effect.sleep("100 millis")
      // published while Redis is down: it waits, then goes through
      yield* bus.publish(yield* order(2, "BTCUSDT"))
      yield* restarting.await
      yield* bus.publish(yield* order(3, "BTCUSDT"))
      yield* until(Effect.sync(() => handled.length === 3), 20)
      expect(handled).toEqual(["BTCUSDT-1", "BTCUSDT-2", "BTCUSDT-3"])
      yield* Scope.close(scope, Exit.void)
    }), 40_000)

  it.effect("refuses a partition count it cannot use", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(RedisEventBus.layer({ url: "redis://127.0.0.1:1", partitions: 0 })))
      expect(error._tag).toBe("EventBusConfigError")
    }).pipe(Effect.scoped))
})
