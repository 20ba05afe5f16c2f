import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Effect, Schema, TestClock } from "effect"
import { BusEventSchema, defaultQueue, eventTypes, makeEvent } from "../../src/domain/BusEvent.js"
import { candle, order } from "../support/fixtures.js"

describe("BusEvent", () => {
  it.effect("makeEvent stamps the Clock's time and a fresh id", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_700_000_000_000)
      const a = yield* makeEvent("CandleClosed", candle(1), { source: "test" })
      yield* TestClock.adjust("5 millis")
      const b = yield* makeEvent("CandleClosed", candle(2))
      expect(a).toMatchObject({ type: "CandleClosed", source: "test", timestamp: 1_700_000_000_000 })
      expect(b.timestamp).toBe(1_700_000_000_005)
      expect(b.source).toBe("unknown")
      expect(a.id).not.toBe(b.id)
    }))

  it.effect("ids stay unique over many events", () =>
    Effect.gen(function*() {
      const ids = new Set<string>()
      for (let i = 0; i < 10_000; i++) ids.add((yield* makeEvent("CandleUpdate", candle(i))).id)
      expect(ids.size).toBe(10_000)
    }))

  it("routes each type to its default queue", () => {
    expect(eventTypes.map((t) => [t, defaultQueue[t]])).toEqual([
      ["CandleUpdate", "data"],
      ["CandleClosed", "data"],
      ["SignalGenerated", "signal"],
      ["OrderCreated", "order"],
      ["OrderPlaced", "order"],
      ["OrderCancelled", "order"],
      ["OrderRejected", "order"],
      ["OrderFilled", "order"],
      ["PositionUpdated", "order"],
      ["Error", "signal"]
    ])
  })

  it.effect("encodes order decimals as exact strings and decodes them back", () =>
    Effect.gen(function*() {
      const event = yield* makeEvent("OrderCreated", order("o-1"))
      const wire = yield* Schema.encode(BusEventSchema)(event)
      expect(JSON.parse(JSON.stringify(wire)).payload).toMatchObject({ quantity: "0.01", price: "42000.1" })
      const back = yield* Schema.decodeUnknown(BusEventSchema)(JSON.parse(JSON.stringify(wire)))
      expect(back.type).toBe("OrderCreated")
      if (back.type !== "OrderCreated") return
      expect(BigDecimal.equals(back.payload.price, BigDecimal.unsafeFromString("42000.10"))).toBe(true)
    }))

  it.effect("rejects a wire event whose payload does not match its type", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Schema.decodeUnknown(BusEventSchema)({
          id: "x",
          type: "OrderCreated",
          payload: candle(1),
          source: "s",
          timestamp: 0
        })
      )
      expect(error._tag).toBe("ParseError")
    }))
})
