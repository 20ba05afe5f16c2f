/**
 * The account's order updates over Binance's WebSocket API: one socket,
 * subscribed with `userDataStream.subscribe.signature`, kept alive with
 * `ping` requests and replaced (with backoff) when it closes, fails, falls
 * silent or is told its stream ended. The listenKey endpoints are gone.
 *
<<<<<<< HEAD
 * Frames of every connection go into one queue and one fiber handles them in
 * arrival order, so `onReport` and `onSubscribed` never overlap and a
 * resubscription is seen after the reports that came before it.
=======
 * The reports and subscriptions of every connection go into one queue and one
 * fiber hands them over in arrival order, so `onReport` and `onSubscribed`
 * never overlap and a resubscription is seen after the reports that came
 * before it. The make returns once the first `onSubscribed` ran. Timestamps
 * come from Effect's Clock (plus `timeOffset`), as the REST client's do.
>>>>>>> issue-13a
 */
import * as Socket from "@effect/platform/Socket"
import { Cause, Data, Deferred, Duration, Effect, Either, Exit, Fiber, Queue, Redacted, type Scope } from "effect"
import { decodeFrame, type ExecutionReport, type UserDataFrameError } from "./ExecutionReport.js"
import { type Signer, signWsParams } from "./signing.js"

export interface UserDataStreamOptions {
  readonly wsApiUrl: string
  readonly apiKey: Redacted.Redacted<string>
  readonly signer: Signer
  /** Default 5000 ms. */
  readonly recvWindow?: number
  /** server time = local clock + offset (the REST client's offset), ms */
  readonly timeOffset?: () => number
  /** reconnect backoff: first wait, doubling up to max. Defaults 250 ms and 10 s */
  readonly reconnectMin?: Duration.DurationInput
  readonly reconnectMax?: Duration.DurationInput
  /** How long to wait for the socket to open and the subscription to be answered. Default 10 s. */
  readonly connectTimeout?: Duration.DurationInput
  /** No frame for this long and the connection is replaced; a `ping` request goes out every third of it. Default 60 s. */
  readonly silenceTimeout?: Duration.DurationInput
}

export interface UserDataHandlers {
  readonly onReport: (report: ExecutionReport) => Effect.Effect<void>
  /** after every successful (re)subscription; `resumed` is false the first time, true after a reconnect: the broker reconciles the orders it holds open then */
  readonly onSubscribed: (info: { readonly resumed: boolean }) => Effect.Effect<void>
}

export interface UserDataStream {
  /** Subscribed right now. */
  readonly connected: Effect.Effect<boolean>
  /** Successful resubscriptions after a lost connection. */
  readonly reconnects: Effect.Effect<number>
  /** Frames that did not decode, skipped. */
  readonly malformed: Effect.Effect<number>
}

/** The stream could not start: no connection, or the subscription refused (`code`/`msg` are Binance's). */
export class UserDataStreamError extends Data.TaggedError("UserDataStreamError")<{
  readonly wsApiUrl: string
  readonly reason: string
  readonly code?: number | undefined
  readonly msg?: string | undefined
}> {
  override get message() {
    const binance = this.code === undefined ? "" : ` (${this.code}: ${this.msg ?? ""})`
    return `user-data stream at ${this.wsApiUrl}: ${this.reason}${binance}`
  }
}

/** One socket's state, shared by its session and the frame handler. */
interface Connection {
  readonly resumed: boolean
  readonly subscribeId: string
  /** The subscription's answer: accepted, or refused. */
  readonly answered: Deferred.Deferred<void, UserDataStreamError>
  /** The first subscription: done once `onSubscribed` ran, or failed. */
  readonly ready: Deferred.Deferred<void, UserDataStreamError> | undefined
  /** The server ended the stream (eventStreamTerminated, serverShutdown). */
  readonly ended: Deferred.Deferred<string>
  lastFrameAt: number
}

/** What the handling fiber does, in arrival order. */
type Work =
  | { readonly _tag: "Report"; readonly report: ExecutionReport }
  | { readonly _tag: "Subscribed"; readonly connection: Connection }
  | { readonly _tag: "Malformed"; readonly error: UserDataFrameError }

/** Events after which the subscription is gone, though the socket may stay open. */
const endingEvents = new Set(["eventStreamTerminated", "serverShutdown"])

const socketEnd = (error: Socket.SocketError): string =>
  error.reason === "Close" ? `closed with code ${error.code}` : `socket error during ${error.reason}`

/** A handler's defect is logged, never allowed to stop the stream. */
const guarded = (what: string, effect: Effect.Effect<void>) =>
  Effect.catchAllCause(effect, (cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError(`binance user data: ${what} died`, cause))

export const makeUserDataStream = (
  options: UserDataStreamOptions,
  handlers: UserDataHandlers
): Effect.Effect<UserDataStream, UserDataStreamError, Scope.Scope | Socket.WebSocketConstructor> =>
  Effect.gen(function*() {
    const url = options.wsApiUrl
    const clock = yield* Effect.clock
    const timeOffset = options.timeOffset ?? (() => 0)
    const recvWindow = options.recvWindow ?? 5000
    const reconnectMin = Duration.decode(options.reconnectMin ?? "250 millis")
    const reconnectMax = Duration.decode(options.reconnectMax ?? "10 seconds")
    const connectTimeout = Duration.decode(options.connectTimeout ?? "10 seconds")
    const silenceMillis = Duration.toMillis(options.silenceTimeout ?? "60 seconds")
    let connected = false
    let reconnects = 0
    let malformed = 0
    let nextRequest = 1
    const requestId = (what: string) => `${what}-${nextRequest++}`
    const textDecoder = new TextDecoder()
    const work = yield* Queue.unbounded<Work>()
    const logged = Effect.annotateLogs({ wsApiUrl: url })

    /**
     * Runs synchronously for each frame, in arrival order: answers settle the
     * waiting session at once (a slow `onReport` must not time it out), the
     * rest is queued for the handling fiber.
     */
    const onFrame = (connection: Connection, text: string): void => {
      connection.lastFrameAt = clock.unsafeCurrentTimeMillis()
      const decoded = decodeFrame(text)
      if (Either.isLeft(decoded)) {
        malformed++
        work.unsafeOffer({ _tag: "Malformed", error: decoded.left })
        return
      }
      const frame = decoded.right
      if (frame._tag === "Report") {
        work.unsafeOffer({ _tag: "Report", report: frame.report })
      } else if (frame._tag === "OtherEvent") {
        if (endingEvents.has(frame.eventType)) Deferred.unsafeDone(connection.ended, Exit.succeed(frame.eventType))
      } else if (frame.id === connection.subscribeId) {
        if (frame.error !== undefined || frame.status !== 200) {
          const refused = new UserDataStreamError({
            wsApiUrl: url,
            reason: "the subscription was refused",
            code: frame.error?.code,
            msg: frame.error?.msg
          })
          Deferred.unsafeDone(connection.answered, Exit.fail(refused))
          return
        }
        connected = true
        if (connection.resumed) reconnects++
        Deferred.unsafeDone(connection.answered, Exit.void)
        work.unsafeOffer({ _tag: "Subscribed", connection })
      } // else a ping's answer: only its arrival counts
    }

    const handle = (item: Work): Effect.Effect<void> => {
      switch (item._tag) {
        case "Report":
          return guarded("onReport", handlers.onReport(item.report))
        case "Malformed":
          return Effect.logWarning("binance user data: a malformed frame, skipped").pipe(
            Effect.annotateLogs({ reason: item.error.reason, sample: item.error.sample })
          )
        case "Subscribed": {
          const { ready, resumed } = item.connection
          return Effect.logInfo(resumed ? "binance user data: resubscribed after a lost connection" : "binance user data: subscribed").pipe(
            Effect.zipRight(guarded("onSubscribed", handlers.onSubscribed({ resumed }))),
            Effect.zipRight(ready === undefined ? Effect.void : Deferred.succeed(ready, undefined))
          )
        }
      }
    }

    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(work), (item) => logged(handle(item)))))

    /** Sends the signed subscription; the answer comes through `onFrame`. */
    const subscribe = (connection: Connection, write: (text: string) => Effect.Effect<void, Socket.SocketError>) =>
      Effect.suspend(() => {
        const params = signWsParams(options.signer, {
          apiKey: Redacted.value(options.apiKey),
          timestamp: clock.unsafeCurrentTimeMillis() + timeOffset(),
          recvWindow
        })
        return write(JSON.stringify({ id: connection.subscribeId, method: "userDataStream.subscribe.signature", params }))
      })

    /**
     * One connection from opening to its end; never fails. Returns whether it
     * was subscribed and why it ended. A first connection's failure to
     * subscribe fails `ready` (the make) instead of being retried.
     */
    const session = (resumed: boolean, ready?: Deferred.Deferred<void, UserDataStreamError>) =>
      Effect.scoped(Effect.gen(function*() {
        const connection: Connection = {
          resumed,
          subscribeId: requestId("subscribe"),
          answered: yield* Deferred.make<void, UserDataStreamError>(),
          ready,
          ended: yield* Deferred.make<string>(),
          lastFrameAt: clock.unsafeCurrentTimeMillis()
        }
        const opened = yield* Deferred.make<void>()
        const socket = yield* Socket.makeWebSocket(url, { openTimeout: connectTimeout, closeCodeIsError: () => true })
        const write = yield* socket.writer
        // a handler returning void runs synchronously, in arrival order (one returning an Effect would be forked)
        const reader = yield* Effect.forkScoped(socket.runRaw((data) => {
          onFrame(connection, typeof data === "string" ? data : textDecoder.decode(data))
        }, { onOpen: Deferred.succeed(opened, undefined) }).pipe(
          Effect.match({ onFailure: socketEnd, onSuccess: () => "closed" })
        ))
        const readerEnd = Fiber.join(reader)

        const subscribed = yield* Deferred.await(opened).pipe(
          Effect.zipRight(subscribe(connection, write)),
          Effect.mapError((error) => new UserDataStreamError({ wsApiUrl: url, reason: `cannot subscribe: ${socketEnd(error)}` })),
          Effect.zipRight(Deferred.await(connection.answered)),
          Effect.raceFirst(Effect.flatMap(readerEnd, (end) =>
            Effect.fail(new UserDataStreamError({ wsApiUrl: url, reason: `cannot connect: ${end}` })))),
          Effect.timeoutFail({
            duration: connectTimeout,
            onTimeout: () => new UserDataStreamError({ wsApiUrl: url, reason: `no subscription within ${Duration.format(connectTimeout)}` })
          }),
          Effect.either
        )
        if (Either.isLeft(subscribed)) {
          if (ready !== undefined) yield* Deferred.fail(ready, subscribed.left)
          return { subscribed: false, end: subscribed.left.message, lastedMillis: 0 } as const
        }

        // Binance's own WebSocket pings do not reach this code: ask for answers so that silence means trouble
        yield* Effect.forkScoped(Effect.forever(
          Effect.sleep(silenceMillis / 3).pipe(
            Effect.zipRight(write(JSON.stringify({ id: requestId("ping"), method: "ping" }))),
            Effect.ignore
          )
        ))
        const silence = Effect.gen(function*() {
          while (true) {
            const idle = clock.unsafeCurrentTimeMillis() - connection.lastFrameAt
            if (idle >= silenceMillis) return `no frame for ${idle} ms`
            yield* Effect.sleep(silenceMillis - idle)
          }
        })
        const ended = Effect.map(Deferred.await(connection.ended), (event) => `the server sent ${event}`)
        const subscribedAt = clock.unsafeCurrentTimeMillis()
        const end = yield* Effect.raceAll([readerEnd, silence, ended])
        return { subscribed: true, end, lastedMillis: clock.unsafeCurrentTimeMillis() - subscribedAt } as const
      })).pipe(Effect.ensuring(Effect.sync(() => void (connected = false))))

    /**
     * After the first subscription: reconnect forever, the wait doubling while
     * attempts fail or their connections do not last (Binance limits new
     * connections per IP: a server that drops every socket at once must not be
     * hammered).
     */
    const keepAlive = (firstEnd: string) =>
      Effect.gen(function*() {
        let end = firstEnd
        let wait = reconnectMin
        while (true) {
          yield* Effect.logWarning(`binance user data: connection lost (${end}); reconnecting in ${Duration.format(wait)}`)
          yield* Effect.sleep(wait)
          const outcome = yield* session(true)
          end = outcome.end
          const lasted = outcome.subscribed && outcome.lastedMillis >= Duration.toMillis(reconnectMax)
          wait = lasted ? reconnectMin : Duration.min(Duration.times(wait, 2), reconnectMax)
        }
      })

    const ready = yield* Deferred.make<void, UserDataStreamError>()
    yield* Effect.forkScoped(
      Effect.flatMap(session(false, ready), (first) => (first.subscribed ? keepAlive(first.end) : Effect.void)).pipe(logged)
    )
    yield* Deferred.await(ready)

    return {
      connected: Effect.sync(() => connected),
      reconnects: Effect.sync(() => reconnects),
      malformed: Effect.sync(() => malformed)
    }
  })
