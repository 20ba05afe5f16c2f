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
import { Clock, Duration, Effect, Layer, Schema } from "effect"
import { hostname } from "node:os"
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

// One call a batch (and, with `appendfsync always`, one fsync). KEYS: each event's stream; ARGV[1]: the capacity,
// ARGV[2..]: the encoded events, in order. data: capped streams (the oldest go), returns how many were pushed out;
// signal, order: added in order while there is room, returns how many were added.
const addCapped = `local cap = tonumber(ARGV[1]) local out = 0
for i = 1, #KEYS do
  if redis.call('XLEN', KEYS[i]) >= cap then out = out + 1 end
  redis.call('XADD', KEYS[i], 'MAXLEN', cap, '*', 'e', ARGV[i + 1])
end
return out`
const addWhileRoom = `local cap = tonumber(ARGV[1])
for i = 1, #KEYS do
  if redis.call('XLEN', KEYS[i]) >= cap then return i - 1 end
  redis.call('XADD', KEYS[i], '*', 'e', ARGV[i + 1])
end
return #KEYS`

/** Events a publish sends in one call at most. */
const batchSize = 256

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
    const consumer = options.consumer ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
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
    let closedAt: number | undefined
    let subscriptions = 0

    const keysOf = (queue: QueueName) => Array.from({ length: partitions }, (_, p) => streamKey(namespace, queue, p))
    const backlog = (queue: QueueName) =>
      Effect.map(Effect.forEach(keysOf(queue), (key) => conn.send(["XLEN", key])), (ns) => ns.reduce<number>((a, n) => a + Number(n), 0))

    const closed = (queue: QueueName) =>
      Effect.flatMap(Effect.orElseSucceed(backlog(queue), () => 0), (size) => Effect.fail(new BusClosedError({ queue, size, capacity: capacity[queue] })))

    const send = (script: string, keys: ReadonlyArray<string>, cap: number, wires: ReadonlyArray<string>) =>
      conn.send(["EVAL", script, String(keys.length), ...keys, String(cap), ...wires])

    /**
     * One batch of events for one queue, in order. Market data never waits: the call caps the streams, and when
     * Redis does not answer the batch is dropped and counted like a slide. A signal or an order waits for room
     * (or for Redis) from where it stopped; a signal gives up with `QueueFullError` once no event went in for
     * `signalPublishTimeout`; an order waits as long as it takes.
     */
    const publishBatch = (queue: QueueName, batch: ReadonlyArray<BusEvent>): Effect.Effect<void, QueueFullError | BusClosedError> =>
      Effect.gen(function*() {
        if (closing) return yield* closed(queue)
        const keys = batch.map((event) => streamKey(namespace, queue, partitionOf(symbolOf(event), partitions)))
        const wires = batch.map((event) => encode(event))
        if (queue === "data") {
          const pushedOut = yield* Effect.either(send(addCapped, keys, capacity.data, wires))
          if (pushedOut._tag === "Right") counters.data.dropped += Number(pushedOut.right)
          else {
            counters.data.dropped += batch.length
            yield* Effect.logWarning(`redis data publish dropped ${batch.length} events: ${pushedOut.left.message}`)
          }
          return
        }
        let next = 0
        let lastProgress = yield* Clock.currentTimeMillis
        while (next < batch.length) {
          const added = yield* Effect.either(send(addWhileRoom, keys.slice(next), capacity[queue], wires.slice(next)))
          const now = yield* Clock.currentTimeMillis
          if (added._tag === "Right" && Number(added.right) > 0) {
            next += Number(added.right)
            lastProgress = now
            continue
          }
          if (closing) return yield* closed(queue)
          if (queue === "signal" && now - lastProgress >= Duration.toMillis(config.signalPublishTimeout)) {
            return yield* new QueueFullError({ queue, size: capacity[queue], capacity: capacity[queue] })
          }
          yield* Effect.sleep("20 millis")
        }
      })

    const publishMany = (events: Iterable<BusEvent>, to: QueueName | undefined): Effect.Effect<void, QueueFullError | BusClosedError> =>
      Effect.gen(function*() {
        // runs of events for one queue, cut into batches, in order
        let queue: QueueName | undefined
        let batch: Array<BusEvent> = []
        for (const event of events) {
          const q = to ?? defaultQueue[event.type]
          if ((q !== queue || batch.length === batchSize) && batch.length > 0) {
            yield* publishBatch(queue!, batch)
            batch = []
          }
          queue = q
          batch.push(event)
        }
        if (batch.length > 0) yield* publishBatch(queue!, batch)
      })

    const bus = EventBus.of({
      publish: (event, queue) => publishBatch(queue ?? defaultQueue[event.type], [event]),
      publishAll: publishMany,
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
          // without a dead-letter store of the engine's (over Redis the journal is off), Redis keeps it
          : Effect.zipRight(
            Effect.logError(`redis bus: entry ${entry.id} of ${entry.key} does not decode, dead-lettered in ${namespace}:dead-letters: ${entry.reason}`, entry.raw.slice(0, 200)),
            Effect.ignoreLogged(conn.send(["XADD", `${namespace}:dead-letters`, "*", "stream", entry.key, "id", entry.id, "reason", entry.reason, "raw", entry.raw]))
          )
      const readers = yield* Effect.forEach(queueNames, (queue) =>
        Effect.gen(function*() {
          const blocking = yield* connect(options.url, `${consumer}-${queue}`)
          const read = makeReader(conn, blocking, leases, {
            namespace, group, consumer, queue, handlerTimeout: config.handlerTimeout, registry,
            counters: counters[queue], undecodable, stoppedAt: () => closedAt
          })
          return yield* Effect.forkScoped(read)
        }))
      // shutdown: publishes fail from now on, the readers handle what is there and stop (within drainTimeout)
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          closing = true
          // Redis's clock stamps the stream ids: the reader compares them with it (this machine's, with a margin)
          closedAt = Date.now() + 1000
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
