/**
 * One queue's reader: the owned partitions' streams of that queue, read with XREADGROUP and handled in order,
 * each event's handlers one after another in subscription order (a failure, defect or timeout is logged and
 * counted, and the next handler runs); each entry is acknowledged and deleted (orders after their handlers ran,
 * the rest before: see `handleEntry`). A partition newly owned is first
 * cleared of the entries its previous owner read but never acknowledged (XAUTOCLAIM).
 */
import { Cause, Duration, Effect, Either, Schema } from "effect"
import { parseReason } from "../../../../domain/ParseReason.js"
import { BusEventSchema, type BusEvent, type EventType, type QueueName } from "../../../../domain/BusEvent.js"
import type { Subscription } from "../Lane.js"
import type { Leases } from "./Leases.js"
import { streamKey } from "./partition.js"
import { type RedisConnection, streamEntries } from "./RedisConnection.js"

export interface QueueCounters {
  processed: number
  failed: number
  dropped: number
  undecodable: number
  /** Milliseconds from the last entry's publish (its stream id) to its handling. */
  lagMillis: number
}

export interface ReaderOptions {
  readonly namespace: string
  readonly group: string
  readonly consumer: string
  readonly queue: QueueName
  readonly handlerTimeout: Duration.Duration
  readonly registry: ReadonlyMap<EventType, ReadonlyArray<Subscription>>
  readonly counters: QueueCounters
  /** An entry that cannot be decoded: kept (dead letters, or the log) before it is acknowledged. */
  readonly undecodable: (entry: { readonly key: string; readonly id: string; readonly raw: string; readonly reason: string }) => Effect.Effect<void>
  /**
   * When shutdown began (epoch millis), or undefined while running. From then on the reader handles only what was
   * published before it (stream ids carry their time), leaves the rest pending for the partition's next owner,
   * and stops once a round finds nothing more of it.
   */
  readonly stoppedAt: () => number | undefined
}

const decode = Schema.decodeUnknownEither(Schema.parseJson(BusEventSchema))

const ackScript = `redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2)) return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))`

const runHandlers = (options: ReaderOptions, event: BusEvent) =>
  Effect.gen(function*() {
    for (const subscription of options.registry.get(event.type) ?? []) {
      const exit = yield* Effect.exit(
        Effect.suspend(() => subscription.handle(event)).pipe(
          Effect.timeoutFail({ duration: options.handlerTimeout, onTimeout: () => `timed out after ${Duration.format(options.handlerTimeout)}` })
        )
      )
      if (exit._tag === "Failure" && !Cause.isInterruptedOnly(exit.cause)) {
        options.counters.failed++
        yield* Effect.logError(`handler ${subscription.name} failed on ${event.type} ${event.id}`, exit.cause).pipe(
          Effect.annotateLogs({ queue: options.queue, handler: subscription.name, eventType: event.type, eventId: event.id })
        )
      } else if (exit._tag === "Failure") {
        return yield* Effect.interrupt
      }
    }
  })

export const makeReader = (conn: RedisConnection, blocking: RedisConnection, leases: Leases, options: ReaderOptions) => {
  const grouped = new Set<string>()
  const claimed = new Set<number>()
  const keyOf = (p: number) => streamKey(options.namespace, options.queue, p)
  const partitionOfKey = new Map<string, number>()

  const ensureGroup = (key: string) =>
    grouped.has(key)
      ? Effect.void
      : conn.send(["XGROUP", "CREATE", key, options.group, "0", "MKSTREAM"]).pipe(
        Effect.catchAll((e) => e.reason.includes("BUSYGROUP") ? Effect.void : Effect.fail(e)),
        Effect.tap(() => Effect.sync(() => grouped.add(key)))
      )

  let handledInRound = 0
  type Entry = { readonly key: string; readonly id: string; readonly fields: ReadonlyArray<string> }

  /** XACK and XDEL of a batch's entries, one call (and one fsync) per stream. */
  const acknowledge = (entries: ReadonlyArray<Entry>) => {
    const byKey = new Map<string, Array<string>>()
    for (const e of entries) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e.id])
    return Effect.forEach(byKey, ([key, ids]) => conn.send(["EVAL", ackScript, "1", key, options.group, ...ids]), { discard: true })
  }

  const handleEntry = (entry: Entry) =>
    Effect.gen(function*() {
      const raw = entry.fields[1]
      if (raw === undefined) return
      const decoded = decode(raw)
      if (Either.isLeft(decoded)) {
        options.counters.undecodable++
        return yield* options.undecodable({ key: entry.key, id: entry.id, raw, reason: parseReason(decoded.left) })
      }
      yield* runHandlers(options, decoded.right)
      options.counters.processed++
      options.counters.lagMillis = Math.max(0, Date.now() - Number(entry.id.split("-")[0]))
    })

  /**
   * A batch read from the streams, in order. Market data and signals are acknowledged before their handlers run:
   * a crash loses the batch in hand rather than run a strategy or the risk checks on it twice (two signals would
   * be two orders). Orders are acknowledged after their handlers ran (a crash redelivers them to the next owner),
   * and executed once across processes by their clientOrderId (RedisOnceBroker).
   */
  const handleBatch = (entries: ReadonlyArray<Entry>) =>
    Effect.gen(function*() {
      const stoppedAt = options.stoppedAt()
      // the lease moved on meanwhile: its new owner handles those entries (still pending, never acknowledged here);
      // so does the next owner with what was published after shutdown began
      const mine = entries.filter((e) => {
        const partition = partitionOfKey.get(e.key)
        if (partition !== undefined && !leases.owns(partition)) return false
        return stoppedAt === undefined || Number(e.id.split("-")[0]) <= stoppedAt
      })
      handledInRound += mine.length
      if (mine.length === 0) return
      if (options.queue !== "order") yield* acknowledge(mine)
      for (const entry of mine) yield* handleEntry(entry)
      if (options.queue === "order") yield* acknowledge(mine)
    })

  /** The entries a previous owner (or this process before a restart) read and never acknowledged. */
  const claimPending = (p: number) =>
    Effect.gen(function*() {
      const key = keyOf(p)
      let cursor = "0-0"
      do {
        const reply = (yield* conn.send(["XAUTOCLAIM", key, options.group, options.consumer, "0", cursor, "COUNT", "100"])) as [string, unknown]
        cursor = String(reply[0])
        yield* handleBatch(streamEntries([[key, reply[1]]]))
      } while (cursor !== "0-0")
    })

  /** One round: claim what newly owned partitions left pending, then read what is new, and handle it. */
  const round = Effect.gen(function*() {
    const owned = [...leases.owned()].sort((a, b) => a - b)
    for (const p of [...claimed]) if (!owned.includes(p)) claimed.delete(p)
    if (owned.length === 0) return yield* Effect.sleep("100 millis")
    for (const p of owned) {
      const key = keyOf(p)
      partitionOfKey.set(key, p)
      yield* ensureGroup(key)
      if (!claimed.has(p)) {
        yield* claimPending(p)
        claimed.add(p)
      }
    }
    const keys = owned.map(keyOf)
    const reply = yield* blocking.send([
      "XREADGROUP", "GROUP", options.group, options.consumer, "COUNT", "128", "BLOCK", "100", "STREAMS", ...keys, ...keys.map(() => ">")
    ])
    yield* handleBatch(streamEntries(reply))
  })

  /** Reads until shutdown began and nothing new is left; a Redis error is logged and retried after a pause. */
  return Effect.gen(function*() {
    while (true) {
      handledInRound = 0
      yield* Effect.catchAll(round, (e) => Effect.zipRight(Effect.logWarning(`redis ${options.queue} reader: ${e.message}`), Effect.sleep("200 millis")))
      if (options.stoppedAt() !== undefined && handledInRound === 0) return
    }
  })
}
