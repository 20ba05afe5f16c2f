/**
 * The WebSocket API (`/ws-api/v3`) as far as user data goes:
 * `userDataStream.subscribe.signature` (any session, signed with the
 * account's key), `userDataStream.unsubscribe`, `session.subscriptions`,
 * `ping` and `time`; events pushed as `{ subscriptionId, event }`.
 */
import type { WebSocket } from "ws"
import { wsPayload } from "../../../execution/internal/binance/signing.js"
import { type ApiError, badSignature, checkTiming, findKey, isApiError, mandatory, signatureValid, type SimulatorKey } from "./Auth.js"

interface Session {
  readonly ws: WebSocket
  /** subscriptionId -> the API key subscribed */
  readonly subscriptions: Map<number, string>
  nextId: number
}

export interface UserDataApi {
  /** Serves one upgraded `/ws-api/v3` socket. */
  readonly connect: (ws: WebSocket) => void
  /** Sends an event to every subscription, as `{ subscriptionId, event }`. */
  readonly push: (event: unknown) => void
  /** Closes every WebSocket API socket abruptly (no close frame): a dropped connection. */
  readonly dropAll: () => void
  readonly subscriptions: () => number
}

const scalar = (u: unknown): u is string | number | boolean =>
  typeof u === "string" || typeof u === "number" || typeof u === "boolean"

export const makeUserDataApi = (options: {
  readonly keys: ReadonlyArray<SimulatorKey>
  readonly serverTime: () => number
}): UserDataApi => {
  const sessions = new Set<Session>()

  const subscribe = (session: Session, params: Record<string, unknown>): unknown => {
    const key = findKey(options.keys, typeof params.apiKey === "string" ? params.apiKey : undefined)
    if (isApiError(key)) return key
    if (typeof params.signature !== "string" || params.signature === "") return mandatory("signature")
    const signed: Record<string, string | number | boolean> = {}
    for (const [name, value] of Object.entries(params)) if (scalar(value)) signed[name] = value
    if (!signatureValid(key, wsPayload(signed), params.signature)) return badSignature
    const timing = checkTiming(
      params.timestamp === undefined ? undefined : String(params.timestamp),
      params.recvWindow === undefined ? undefined : String(params.recvWindow),
      options.serverTime()
    )
    if (timing !== undefined) return timing
    for (const apiKey of session.subscriptions.values()) {
      if (apiKey === key.apiKey) return { status: 400, code: -2035, msg: "User Data Stream subscription already active." }
    }
    const subscriptionId = session.nextId++
    session.subscriptions.set(subscriptionId, key.apiKey)
    return { subscriptionId }
  }

  const answer = (session: Session, text: string): string => {
    let request: { id?: unknown; method?: unknown; params?: unknown }
    try {
      request = JSON.parse(text)
    } catch {
      return JSON.stringify({ id: null, status: 400, error: { code: -1102, msg: "Invalid JSON" } })
    }
    const id = request.id ?? null
    const params = (typeof request.params === "object" && request.params !== null ? request.params : {}) as Record<
      string,
      unknown
    >
    let result: unknown
    switch (request.method) {
      case "userDataStream.subscribe.signature":
        result = subscribe(session, params)
        break
      case "userDataStream.unsubscribe":
        if (params.subscriptionId === undefined) session.subscriptions.clear()
        else if (!session.subscriptions.delete(Number(params.subscriptionId))) {
          result = { status: 400, code: -2036, msg: "User Data Stream subscription not active." }
        }
        result ??= {}
        break
      case "session.subscriptions":
        result = [...session.subscriptions.keys()].map((subscriptionId) => ({ subscriptionId }))
        break
      case "ping":
        result = {}
        break
      case "time":
        result = { serverTime: options.serverTime() }
        break
      default:
        result = { status: 400, code: -1020, msg: "This operation is not supported." }
    }
    if (isApiError(result)) {
      const error = result as ApiError
      return JSON.stringify({ id, status: error.status, error: { code: error.code, msg: error.msg } })
    }
    return JSON.stringify({ id, status: 200, result })
  }

  return {
    connect: (ws) => {
      const session: Session = { ws, subscriptions: new Map(), nextId: 0 }
      sessions.add(session)
      ws.on("message", (data, isBinary) => {
        if (isBinary) return
        const reply = answer(session, data.toString())
        if (ws.readyState === ws.OPEN) ws.send(reply)
      })
      ws.on("close", () => sessions.delete(session))
      ws.on("error", () => sessions.delete(session))
    },
    push: (event) => {
      for (const session of sessions) {
        if (session.ws.readyState !== session.ws.OPEN) continue
        for (const subscriptionId of session.subscriptions.keys()) {
          session.ws.send(JSON.stringify({ subscriptionId, event }))
        }
      }
    },
    dropAll: () => {
      for (const session of sessions) session.ws.terminate()
      sessions.clear()
    },
    subscriptions: () => {
      let n = 0
      for (const session of sessions) n += session.subscriptions.size
      return n
    }
  }
}
