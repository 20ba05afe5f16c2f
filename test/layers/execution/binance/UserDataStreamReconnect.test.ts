import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { hmac, waitFor } from "../../../support/simulatorTrading.js"
import { fakeApi, start, withKey } from "./userDataHarness.js"

describe("makeUserDataStream (against a fake WebSocket API)", () => {
  it.scopedLive("a silent server is replaced; the ping requests keep a quiet one alive", () =>
    Effect.gen(function*() {
      let answerPings = true
      const server = yield* fakeApi((request) =>
        request.method === "ping"
          ? answerPings ? { status: 200, result: {} } : undefined
          : { status: 200, result: { subscriptionId: 0 } }
      )
      const { stream, subscribed } = yield* start({
        wsApiUrl: server.url,
        ...withKey(yield* hmac),
        silenceTimeout: "300 millis",
        reconnectMin: "20 millis"
      })
      const quietUntil = Date.now() + 1_000
      yield* waitFor("a quiet second", () => Date.now() > quietUntil, 2_000)
      expect(yield* stream.reconnects).toBe(0)
      answerPings = false
      yield* waitFor("the replacement", () => subscribed.length >= 2, 3_000)
      expect(subscribed.slice(0, 2)).toEqual([false, true])
      expect(server.connections.length).toBeGreaterThanOrEqual(2)
    }))

  it.scopedLive("refused resubscriptions back off, doubling up to the max, until one is accepted", () =>
    Effect.gen(function*() {
      const server = yield* fakeApi((request, connection) =>
        request.method === "ping" || connection === 0 || connection >= 4
          ? { status: 200, result: request.method === "ping" ? {} : { subscriptionId: 0 } }
          : { status: 400, error: { code: -1021, msg: "Timestamp for this request is outside of the recvWindow." } }
      )
      const { stream, subscribed } = yield* start({
        wsApiUrl: server.url,
        ...withKey(yield* hmac),
        reconnectMin: "20 millis",
        reconnectMax: "60 millis"
      })
      server.dropAll()
      yield* waitFor("the accepted resubscription", () => subscribed.length === 2)
      expect(yield* stream.reconnects).toBe(1)
      expect(yield* stream.connected).toBe(true)
      const gaps = server.connections.slice(1).map((at, k) => at - server.connections[k]!)
      expect(gaps).toHaveLength(4)
      // waits of 20, 40, 60 (capped), 60 ms; a timer may fire a millisecond early
      ;[20, 40, 60, 60].forEach((wait, k) => expect(gaps[k]).toBeGreaterThanOrEqual(wait - 2))
      expect(gaps[3]).toBeLessThan(1_000)
    }))

  it.scopedLive("connections dropped right after subscribing back off too: the wait resets only after one that lasted", () =>
    Effect.gen(function*() {
      const server = yield* fakeApi((request, connection, drop) => {
        if (request.method !== "ping" && connection >= 1 && connection <= 3) drop()
        return { status: 200, result: request.method === "ping" ? {} : { subscriptionId: 0 } }
      })
      const { stream, subscribed } = yield* start({
        wsApiUrl: server.url,
        ...withKey(yield* hmac),
        reconnectMin: "20 millis",
        reconnectMax: "60 millis"
      })
      server.dropAll()
      yield* waitFor("five subscriptions", () => subscribed.length === 5)
      expect(subscribed).toEqual([false, true, true, true, true])
      expect(yield* stream.reconnects).toBe(4)
      const gaps = server.connections.slice(1).map((at, k) => at - server.connections[k]!)
      ;[20, 40, 60, 60].forEach((wait, k) => expect(gaps[k]).toBeGreaterThanOrEqual(wait - 2))
    }))
})
