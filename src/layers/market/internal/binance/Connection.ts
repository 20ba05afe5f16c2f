import type { HttpClient } from "@effect/platform"
import * as Socket from "@effect/platform/Socket"
import { Cause, Deferred, Effect, Fiber, Queue } from "effect"
import { backfill } from "./Backfill.js"
import type { Collector } from "./Collector.js"
import type { StreamGroup } from "./Options.js"

/** Why a connection ended. */
export type ConnectionEnd =
  | { readonly _tag: "Closed"; readonly error: Socket.SocketError | undefined }
  | { readonly _tag: "Silent" }
  | { readonly _tag: "MaxAge" }

export interface ConnectionOutcome {
  readonly end: ConnectionEnd
  /** How long the connection was open, ms; 0 when it never opened. */
  readonly openMillis: number
}

/** `null` marks the end of a connection's frames. */
type Frame = string | Uint8Array | null

/**
 * One combined-stream connection, from opening to its end: a close, an
 * error, silence or old age. Never fails.
 *
 * `Socket.runRaw` calls its handler synchronously for each frame (a handler
 * returning `void` is not forked), so frames go into the queue in the order
 * they arrived; one consumer fiber decodes and publishes them. The consumer
 * first backfills over REST, while new frames wait in the queue, so that
 * the REST candles are published before the WebSocket ones. After the
 * socket ends, the consumer still handles what was queued.
 */
export const runConnection = (
  collector: Collector,
  http: HttpClient.HttpClient,
  group: StreamGroup
): Effect.Effect<ConnectionOutcome, never, Socket.WebSocketConstructor> =>
  Effect.scoped(Effect.gen(function*() {
    const { clock, counters, options } = collector
    const frames = yield* Queue.unbounded<Frame>()
    const opened = yield* Deferred.make<boolean>()
    let lastFrameAt = clock.unsafeCurrentTimeMillis()
    let openedAt: number | undefined
    let closedAt: number | undefined
    const markClosed = Effect.sync(() => {
      if (openedAt !== undefined && closedAt === undefined) {
        closedAt = clock.unsafeCurrentTimeMillis()
        counters.openConnections--
        collector.metrics.syncConnected()
      }
    })

    const socket = yield* Socket.makeWebSocket(group.url, {
      openTimeout: options.openTimeoutMillis,
      closeCodeIsError: () => true // every close ends the connection; keep its code for the log
    })

    const onOpen = Effect.suspend(() => {
      openedAt = clock.unsafeCurrentTimeMillis()
      lastFrameAt = openedAt
      counters.openConnections++
      collector.metrics.syncConnected()
      return Deferred.succeed(opened, true)
    })

    const reader = socket.runRaw((frame) => {
      lastFrameAt = clock.unsafeCurrentTimeMillis()
      counters.messages++
      collector.metrics.messages.unsafeUpdate(1, [])
      frames.unsafeOffer(frame)
    }, { onOpen: Effect.asVoid(onOpen) }).pipe(
      Effect.match({
        onFailure: (error): ConnectionEnd => ({ _tag: "Closed", error }),
        onSuccess: (): ConnectionEnd => ({ _tag: "Closed", error: undefined })
      }),
      Effect.ensuring(markClosed)
    )

    const silence = Effect.gen(function*() {
      while (true) {
        const idle = clock.unsafeCurrentTimeMillis() - lastFrameAt
        if (idle >= options.silenceTimeoutMillis) return { _tag: "Silent" } as const
        yield* Effect.sleep(options.silenceTimeoutMillis - idle)
      }
    })

    const aged = Deferred.await(opened).pipe(
      Effect.zipRight(Effect.sleep(options.maxConnectionAgeMillis)),
      Effect.as({ _tag: "MaxAge" } as const)
    )

    const consumer = yield* Effect.forkScoped(Effect.gen(function*() {
      if (yield* Deferred.await(opened)) yield* backfill(collector, http, group.symbols)
      while (true) {
        const frame = yield* Queue.take(frames)
        if (frame === null) return
        yield* Effect.catchAllCause(collector.handleFrame(group, frame), (cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logError("binance: a frame handler died", cause))
      }
    }))

    const end = yield* Effect.raceAll<Effect.Effect<ConnectionEnd>>([reader, silence, aged])
    yield* markClosed
    yield* Deferred.succeed(opened, false) // a consumer still waiting for the open: there was none
    yield* Queue.offer(frames, null)
    yield* Fiber.join(consumer)
    return {
      end,
      openMillis: openedAt === undefined ? 0 : (closedAt ?? clock.unsafeCurrentTimeMillis()) - openedAt
    }
  }))
