import type * as HttpClient from "@effect/platform/HttpClient"
import * as Socket from "@effect/platform/Socket"
import { Cause, Deferred, Effect, Fiber, Queue } from "effect"
import { backfill, holdGaps } from "./Backfill.js"
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

/** Frames waiting for the consumer above which the socket stops reading, and below which it reads again. */
const pauseAbove = 4096
const resumeBelow = 1024

/** The `ws` package's WebSocket can stop reading (TCP then pushes back on the sender); a browser's cannot. */
interface Pausable {
  readonly pause: () => void
  readonly resume: () => void
}
const pausable = (ws: globalThis.WebSocket | undefined): Pausable | undefined =>
  ws !== undefined && typeof (ws as Partial<Pausable>).pause === "function" &&
    typeof (ws as Partial<Pausable>).resume === "function"
    ? ws as unknown as Pausable
    : undefined

/**
 * One combined-stream connection, from opening to its end: a close, an
 * error, silence or old age. Never fails.
 *
 * `Socket.runRaw` calls its handler synchronously for each frame (a handler
 * returning `void` is not forked), so frames go into the queue in the order
 * they arrived; one consumer fiber decodes and publishes them. Once open,
 * the symbols with a gap are backfilled over REST in the background: their
 * live closed candles are held until their gap is settled (see `backfill`),
 * the others' flow at once. After the socket ends, the consumer still
 * handles what was queued. When the consumer falls `pauseAbove` frames
 * behind, the socket stops reading until it catches up: memory stays
 * bounded, and the sender sees TCP's backpressure (the simulator pauses).
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

    // keeps the socket the constructor made, to pause and resume its reading
    const construct = yield* Socket.WebSocketConstructor
    let flow: Pausable | undefined
    let paused = false
    let queued = 0
    const socket = yield* Socket.makeWebSocket(group.url, {
      openTimeout: options.openTimeoutMillis,
      closeCodeIsError: () => true // every close ends the connection; keep its code for the log
    }).pipe(Effect.provideService(Socket.WebSocketConstructor, (url, protocols) => {
      const ws = construct(url, protocols)
      flow = pausable(ws)
      return ws
    }))

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
      if (++queued > pauseAbove && !paused && flow !== undefined) {
        paused = true
        flow.pause()
      }
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
      if (yield* Deferred.await(opened)) {
        // the holds start before the first frame is handled, so that no live candle overtakes its gap
        yield* Effect.forkScoped(backfill(collector, http, holdGaps(collector, group.symbols)))
      }
      while (true) {
        const frame = yield* Queue.take(frames)
        if (frame === null) return
        if (--queued < resumeBelow && paused) {
          paused = false
          flow?.resume()
        }
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
