/**
 * A Redis connection as Effects: node-redis (`redis`, the client @effect/platform-node's own Redis support moved
 * to) with its reconnect-with-backoff, every command sent as raw arguments and answered as data.
 */
import { Data, Effect, type Scope } from "effect"
import { createClient } from "redis"

/** A command Redis did not answer: the connection is down (node-redis reconnects meanwhile) or it refused it. */
export class RedisCommandError extends Data.TaggedError("RedisCommandError")<{
  readonly command: string
  readonly reason: string
}> {
  override get message() {
    return `redis ${this.command} failed: ${this.reason}`
  }
}

export type Reply = unknown

export interface RedisConnection {
  readonly send: (args: ReadonlyArray<string>) => Effect.Effect<Reply, RedisCommandError>
  /** Closes the socket at once, without QUIT: what a crash looks like to the server. */
  readonly destroy: Effect.Effect<void>
}

/** A connection for the scope; `name` labels it in CLIENT LIST and in the logs. */
export const connect = (url: string, name: string): Effect.Effect<RedisConnection, RedisCommandError, Scope.Scope> =>
  Effect.gen(function*() {
    const client = createClient({
      url,
      name,
      socket: {
        // 50 ms, doubling, at most 2 s between attempts, forever: publishers wait (or time out) meanwhile
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2_000),
        connectTimeout: 5_000
      }
    })
    let lastError = ""
    // without a listener node-redis would throw its connection errors at the process
    client.on("error", (error: Error) => {
      if (error.message !== lastError) {
        lastError = error.message
        Effect.runFork(Effect.logWarning(`redis ${name}: ${error.message} (reconnecting)`))
      }
    })
    client.on("ready", () => {
      lastError = ""
    })
    yield* Effect.tryPromise({
      try: () => client.connect(),
      catch: (cause) => new RedisCommandError({ command: "CONNECT", reason: `${url}: ${String(cause)}` })
    })
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        if (client.isOpen) await client.close().catch(() => client.destroy())
      })
    )
    return {
      send: (args) =>
        Effect.tryPromise({
          try: () => client.sendCommand([...args]),
          catch: (cause) => new RedisCommandError({ command: args[0] ?? "", reason: cause instanceof Error ? cause.message : String(cause) })
        }),
      destroy: Effect.sync(() => {
        if (client.isOpen) client.destroy()
      })
    }
  })

/** `[[key, [[id, [field, value, ...]], ...]], ...]` or, under RESP3, `{ key: [[id, fields], ...] }`: the entries. */
export const streamEntries = (reply: Reply): Array<{ readonly key: string; readonly id: string; readonly fields: ReadonlyArray<string> }> => {
  if (reply === null || reply === undefined) return []
  const perKey: Array<readonly [string, unknown]> = Array.isArray(reply)
    ? (reply as Array<[string, unknown]>).map(([k, v]) => [String(k), v] as const)
    : Object.entries(reply as Record<string, unknown>)
  const out: Array<{ key: string; id: string; fields: ReadonlyArray<string> }> = []
  for (const [key, entries] of perKey) {
    for (const entry of (entries as Array<[string, Array<string> | null]>) ?? []) {
      // a claimed entry deleted meanwhile comes with no fields
      out.push({ key, id: String(entry[0]), fields: (entry[1] ?? []).map(String) })
    }
  }
  return out
}
