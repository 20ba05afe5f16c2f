/**
 * Which partitions this process reads: each is owned through a lease key in Redis (`SET NX PX`), renewed a few
 * times per `leaseTimeout` and expiring after it when its owner dies. The live members heartbeat in a sorted set,
 * and each takes at most its share (partitions / members, rounded up), so engines started together share the
 * partitions and a survivor takes a dead one's as soon as its leases expire.
 */
import { Duration, Effect, type Scope } from "effect"
import { leaseKey } from "./partition.js"
import type { RedisCommandError, RedisConnection } from "./RedisConnection.js"

export interface LeaseOptions {
  readonly namespace: string
  readonly partitions: number
  readonly consumer: string
  readonly leaseTimeout: Duration.Duration
  /** Leave the leases to expire when the scope closes, as a crashed process would. Default false: release them. */
  readonly abandonOnClose: boolean
}

export interface Leases {
  /** The partitions owned now (as of the last renewal). */
  readonly owned: () => ReadonlySet<number>
  /** Whether `partition` is still owned: checked before each entry is handled. */
  readonly owns: (partition: number) => boolean
  /** Releases every lease now (shutdown), so another process takes over without waiting for the timeout. */
  readonly releaseAll: Effect.Effect<void>
}

// only the owner may extend or delete its lease
const renewScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`

export const makeLeases = (conn: RedisConnection, options: LeaseOptions): Effect.Effect<Leases, RedisCommandError, Scope.Scope> =>
  Effect.gen(function*() {
    const owned = new Set<number>()
    const ttl = String(Math.max(1, Math.round(Duration.toMillis(options.leaseTimeout))))
    const members = `${options.namespace}:members`

    const release = (p: number) =>
      Effect.zipRight(
        conn.send(["EVAL", releaseScript, "1", leaseKey(options.namespace, p), options.consumer]),
        Effect.sync(() => owned.delete(p))
      )

    const round = Effect.gen(function*() {
      // wall time, not the Clock: members in other processes compare against it
      const now = Date.now()
      yield* conn.send(["ZADD", members, String(now + Number(ttl)), options.consumer])
      yield* conn.send(["ZREMRANGEBYSCORE", members, "-inf", String(now)])
      const live = Math.max(1, Number(yield* conn.send(["ZCARD", members])))
      const share = Math.ceil(options.partitions / live)
      for (const p of [...owned]) {
        const renewed = yield* conn.send(["EVAL", renewScript, "1", leaseKey(options.namespace, p), options.consumer, ttl])
        if (Number(renewed) !== 1) owned.delete(p) // it expired and another took it: stop reading it
      }
      // more than a fair share (a member joined): hand the highest partitions back
      for (const p of [...owned].sort((a, b) => b - a).slice(0, Math.max(0, owned.size - share))) yield* release(p)
      for (let p = 0; p < options.partitions && owned.size < share; p++) {
        if (owned.has(p)) continue
        const taken = yield* conn.send(["SET", leaseKey(options.namespace, p), options.consumer, "NX", "PX", ttl])
        if (taken === "OK") owned.add(p)
      }
    })

    yield* round
    const every = Duration.millis(Math.max(10, Math.round(Number(ttl) / 4)))
    // a failed round (Redis restarting) keeps the last view; leases not renewed in time expire on their own
    yield* Effect.forkScoped(
      Effect.forever(Effect.zipRight(Effect.sleep(every), Effect.catchAll(round, (e) => Effect.logWarning(`redis leases: ${e.message}`))))
    )
    const releaseAll = Effect.gen(function*() {
      for (const p of [...owned]) yield* Effect.ignore(release(p))
      yield* Effect.ignore(conn.send(["ZREM", members, options.consumer]))
    })
    if (!options.abandonOnClose) yield* Effect.addFinalizer(() => releaseAll)
    return { owned: () => owned, owns: (p) => owned.has(p), releaseAll }
  })
