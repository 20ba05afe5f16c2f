/**
 * The `EventBus` port over Redis Streams, for several processes: each queue is one stream per partition
 * (`<ns>:data:<p>`, `<ns>:signal:<p>`, `<ns>:order:<p>`), an event's partition a stable hash of its symbol, so
 * one symbol's events keep their order. Events cross the wire in their Schema's encoded form. Every process
 * publishes; the processes that subscribe read the partitions they own through a lease (see `internal/redis/`),
 * in one consumer group, and acknowledge an entry once its handlers ran.
 *
 * The queue policies carry over: `data` streams are capped at `dataCapacity` (the newest wins, the pushed-out
 * counted), a `signal` publish waits while its stream holds `signalCapacity` unacknowledged entries and fails
 * with `QueueFullError` after `signalPublishTimeout`, an `order` publish waits as long as it takes and an order
 * entry is deleted only once acknowledged. One consumer group per namespace: entries are deleted after its ack.
 */
import { Duration, Effect, Layer, Schema } from "effect"
import { type BusEvent, BusEventSchema, defaultQueue, type EventType, type QueueName, queueNames } from "../../domain/BusEvent.js"
import { BusClosedError, EventBusConfigError, QueueFullError } from "../../domain/Errors.js"
import { type EventBusConfig, resolveEventBusConfig } from "../../domain/EventBusConfig.js"
import { DeadLetters } from "../../services/DeadLetters.js"
import * as Metrics from "../../domain/Metrics.js"
import { EventBus, type EventHandler, type QueueStats } from "../../services/EventBus.js"
import type { Subscription } from "./internal/Lane.js"
import { makeLeases } from "./internal/redis/Leases.js"
import { partitionOf, streamKey, symbolOf } from "./internal/redis/partition.js"
import { makeReader, type QueueCounters } from "./internal/redis/Reader.js"
import { connect, type RedisCommandError } from "./internal/redis/RedisConnection.js"

export { RedisCommandError } from "./internal/redis/RedisConnection.js"
export { partitionOf } from "./internal/redis/partition.js"

export interface RedisEventBusOptions extends Partial<Omit<EventBusConfig, "metrics" | "tracing">> {
  /** `redis://host:port[/db]`. */
  readonly url: string
  /** Prefix of every key. Default `trading-bus`. */
  readonly namespace?: string
  /** Partitions per queue. Default 1. Every process of a namespace must use the same number. */
  readonly partitions?: number
  /** The consumer group. Default `engines`. */
  readonly group?: string
  /** This process's name in the group and on its leases. Default `<host>-<pid>-<random>`. */
  readonly consumer?: string
  /** How long a dead owner's partitions wait before another process takes them. Default 5 s. */
  readonly leaseTimeout?: Duration.DurationInput
  /** Read no partition (a publisher only, such as a collector). Default false. */
  readonly publishOnly?: boolean
  /** Leave the leases to expire when the scope closes, as a crashed process would (failover drills). Default false. */
  readonly abandonLeasesOnClose?: boolean
}

/** A queue's stats on Redis: the memory bus's, `size` being the unacknowledged entries of its streams. */
export interface RedisQueueStats extends QueueStats {
  /** Entries read and not yet acknowledged, over its streams. */
  readonly pending: number
  /** Entries that did not decode: dead-lettered (or logged) and acknowledged. */
  readonly undecodable: number
  readonly lagMillis: number
  /** The partitions this process reads. */
  readonly owned: ReadonlyArray<number>
}

// data: cap the stream (the oldest go) and say whether one went; signal, order: add only below capacity
const addCapped = `local n = redis.call('XLEN', KEYS[1]) redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'e', ARGV[2]) if n >= tonumber(ARGV[1]) then return 1 else return 0 end`
const addIfRoom = `if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end return redis.call('XADD', KEYS[1], '*', 'e', ARGV[2])`

const encode = Schema.encodeSync(Schema.parseJson(BusEventSchema))

const make = (options: RedisEventBusOptions) =>
  Effect.gen(function*() {
    const config = yield* resolveEventBusConfig(options)
    const partitions = options.partitions ?? 1
    if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > 1024) {
      return yield* new EventBusConfigError({ setting: "partitions", value: partitions, reason: "must be a whole number from 1 to 1024" })
    }
    const namespace = options.namespace ?? "trading-bus"
    const group = options.group ?? "engines"
    const consumer = options.consumer ?? `${process.env.HOSTNAME ?? "host"}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    const leaseTimeout = Duration.decode(options.leaseTimeout ?? "5 seconds")
    const capacity = { data: config.dataCapacity, signal: config.signalCapacity, order: config.orderCapacity }
    const deadLetters = yield* Effect.serviceOption(DeadLetters)

    const conn = yield* connect(options.url, `${consumer}-commands`)
    const registry = new Map<EventType, ReadonlyArray<Subscription>>()
    const counters: Record<QueueName, QueueCounters> = {
      data: { processed: 0, failed: 0, dropped: 0, undecodable: 0, lagMillis: 0 },
      signal: { processed: 0, failed: 0, dropped: 0, undecodable: 0, lagMillis: 0 },
      order: { processed: 0, failed: 0, dropped: 0, undecodable: 0, lagMillis: 0 }
    }
    let closing = false
    let subscriptions = 0

    const keysOf = (queue: QueueName) => Array.from({ length: partitions }, (_, p) => streamKey(namespace, queue, p))
    const backlog = (queue: QueueName) =>
      Effect.map(Effect.forEach(keysOf(queue), (key) => conn.send(["XLEN", key])), (ns) => ns.reduce<number>((a, n) => a + Number(n), 0))

    const closed = (queue: QueueName) =>
      Effect.flatMap(Effect.orElseSucceed(backlog(queue), () => 0), (size) => Effect.fail(new BusClosedError({ queue, size, capacity: capacity[queue] })))

    /** Retries `add` every 20 ms while it finds no room or Redis does not answer. */
    const untilAdded = (add: Effect.Effect<unknown, RedisCommandError>, queue: QueueName) =>
      Effect.gen(function*() {
        while (true) {
          const added = yield* Effect.either(add)
          if (added._tag === "Right" && added.right !== null && added.right !== undefined) return
          if (closing) return yield* closed(queue)
          yield* Effect.sleep("20 millis")
        }
      })

    const publishOne = (event: BusEvent, to: QueueName | undefined): Effect.Effect<void, QueueFullError | BusClosedError> =>
      Effect.suspend(() => {
        const queue = to ?? defaultQueue[event.type]
        if (closing) return closed(queue)
        const key = streamKey(namespace, queue, partitionOf(symbolOf(event), partitions))
        const wire = encode(event)
        const cap = String(capacity[queue])
        if (queue === "data") {
          // market data never waits: when Redis does not answer, the event is dropped and counted like a slide
          return conn.send(["EVAL", addCapped, "1", key, cap, wire]).pipe(
            Effect.map((pushedOut) => void (Number(pushedOut) === 1 && counters.data.dropped++)),
            Effect.catchAll((e) => Effect.zipRight(Effect.sync(() => counters.data.dropped++), Effect.logWarning(`redis data publish dropped ${event.type}: ${e.message}`)))
          )
        }
        const waiting = untilAdded(conn.send(["EVAL", addIfRoom, "1", key, cap, wire]), queue)
        return queue === "order"
          ? waiting
          : Effect.timeoutFail(waiting, {
            duration: config.signalPublishTimeout,
            onTimeout: () => new QueueFullError({ queue, size: capacity[queue], capacity: capacity[queue] })
          })
      })

    const bus = EventBus.of({
      publish: publishOne,
      publishAll: (events, queue) => Effect.forEach(events, (event) => publishOne(event, queue), { discard: true }),
      subscribe: <T extends EventType>(type: T, handler: EventHandler<T>, subscribeOptions?: { readonly name?: string }) =>
        Effect.sync(() => {
          const name = subscribeOptions?.name ?? `${type}#${++subscriptions}`
          registry.set(type, [...(registry.get(type) ?? []), { name, handle: handler as EventHandler<EventType>, tallies: [] }])
        }),
      stats: Effect.gen(function*() {
        const of = (queue: QueueName) =>
          Effect.gen(function*() {
            const size = yield* Effect.orElseSucceed(backlog(queue), () => -1)
            let pending = 0
            for (const key of keysOf(queue)) {
              const summary = yield* Effect.orElseSucceed(conn.send(["XPENDING", key, group]), () => [0])
              pending += Number((summary as Array<unknown>)[0] ?? 0)
            }
            const c = counters[queue]
            return {
              size,
              capacity: capacity[queue],
              dropped: c.dropped,
              processed: c.processed,
              failed: c.failed,
              pending,
              undecodable: c.undecodable,
              lagMillis: c.lagMillis,
              owned: leases === undefined ? [] : [...leases.owned()].sort((a, b) => a - b)
            } satisfies RedisQueueStats
          })
        return { data: yield* of("data"), signal: yield* of("signal"), order: yield* of("order") }
      })
    })

    // the XGROUPs must exist before the first publish's entry, or `$`-less groups still see it: created from 0
    for (const queue of queueNames) {
      for (const key of keysOf(queue)) {
        yield* conn.send(["XGROUP", "CREATE", key, group, "0", "MKSTREAM"]).pipe(
          Effect.catchAll((e) => e.reason.includes("BUSYGROUP") ? Effect.void : Effect.fail(e))
        )
      }
    }

    const leases = options.publishOnly === true
      ? undefined
      : yield* makeLeases(conn, { namespace, partitions, consumer, leaseTimeout, abandonOnClose: options.abandonLeasesOnClose === true })

    if (leases !== undefined) {
      const undecodable = (entry: { readonly key: string; readonly id: string; readonly raw: string; readonly reason: string }) =>
        deadLetters._tag === "Some"
          ? Effect.ignoreLogged(deadLetters.value.addUndecodable({
            handler: "redis-bus",
            queue: entry.key,
            cause: entry.reason,
            eventId: entry.id,
            eventType: "unknown",
            raw: entry.raw,
            failedAt: Date.now()
          }))
          : Effect.logError(`redis bus: entry ${entry.id} of ${entry.key} does not decode, acknowledged: ${entry.reason}`, entry.raw.slice(0, 200))
      const readers = yield* Effect.forEach(queueNames, (queue) =>
        Effect.gen(function*() {
          const blocking = yield* connect(options.url, `${consumer}-${queue}`)
          const read = makeReader(conn, blocking, leases, {
            namespace, group, consumer, queue, handlerTimeout: config.handlerTimeout, registry,
            counters: counters[queue], undecodable, stopping: () => closing
          })
          return yield* Effect.forkScoped(read)
        }))
      // shutdown: publishes fail from now on, the readers handle what is there and stop (within drainTimeout)
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          closing = true
          const drained = yield* Effect.forEach(readers, (f) => f.await).pipe(Effect.interruptible, Effect.timeoutOption(config.drainTimeout))
          if (drained._tag === "None") yield* Effect.logWarning(`redis bus: not drained within ${Duration.format(config.drainTimeout)}; the rest stays in Redis for the next owner`)
        })
      )
    } else {
      yield* Effect.addFinalizer(() => Effect.sync(() => void (closing = true)))
    }
    // the trading_bus_redis_* gauges, every second, exported at 0 from the start
    const lagOf = Metrics.labelled(Metrics.redisLagSeconds, "queue")
    const pendingOf = Metrics.labelled(Metrics.redisPending, "queue")
    const lengthOf = Metrics.labelled(Metrics.redisStreamLength, "queue")
    const ownedOf = Metrics.labelled(Metrics.redisLeaseOwned, "partition")
    const sample = Effect.gen(function*() {
      const stats = yield* bus.stats
      for (const queue of queueNames) {
        const s = stats[queue] as RedisQueueStats
        lagOf(queue).unsafeUpdate(s.lagMillis / 1000, [])
        pendingOf(queue).unsafeUpdate(s.pending, [])
        lengthOf(queue).unsafeUpdate(Math.max(0, s.size), [])
      }
      for (let p = 0; p < partitions; p++) ownedOf(String(p)).unsafeUpdate(leases?.owns(p) === true ? 1 : 0, [])
    })
    yield* sample
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep("1 second"), sample)))
    return bus
  })

/**
 * The bus over Redis as a scoped layer. Fails with `EventBusConfigError` for a setting that cannot work and
 * `RedisCommandError` when Redis cannot be reached at start; later outages are waited out (see the module).
 */
export const layer = (options: RedisEventBusOptions): Layer.Layer<EventBus, EventBusConfigError | RedisCommandError> =>
  Layer.scoped(EventBus, make(options))
