import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Effect } from "effect"
import type { BusEvent } from "../../src/domain/BusEvent.js"
import type { Candle } from "../../src/domain/Candle.js"
import type { ErrorReport } from "../../src/domain/ErrorReport.js"
import type { BusClosedError, QueueFullError } from "../../src/domain/Errors.js"
import type { Fill, Order } from "../../src/domain/Order.js"
import type { Signal } from "../../src/domain/Signal.js"
import { EventBus } from "../../src/services/EventBus.js"

// Compile-time checks: `npm test` type-checks this file before vitest runs it.
describe("EventBus types", () => {
  it("subscribe narrows the handler's event to the subscribed type's payload", () => {
    const program = Effect.gen(function*() {
      const bus = yield* EventBus
      yield* bus.subscribe("CandleClosed", (event) => {
        expectTypeOf(event.type).toEqualTypeOf<"CandleClosed">()
        expectTypeOf(event.payload).toEqualTypeOf<Candle>()
        return Effect.void
      })
      yield* bus.subscribe("OrderFilled", (event) => {
        expectTypeOf(event.payload).toEqualTypeOf<Fill>()
        // @ts-expect-error a fill has no `close`
        void event.payload.close
        return Effect.void
      })
      yield* bus.subscribe("OrderRejected", (event) => {
        expectTypeOf(event.payload).toEqualTypeOf<Order>()
        return Effect.void
      })
      yield* bus.subscribe("SignalGenerated", (event) => {
        expectTypeOf(event.payload).toEqualTypeOf<Signal>()
        return Effect.fail("handlers may fail with anything")
      })
      yield* bus.subscribe("Error", (event) => {
        expectTypeOf(event.payload).toEqualTypeOf<ErrorReport>()
        return Effect.void
      })
      // @ts-expect-error not an event type
      yield* bus.subscribe("CandleOpened", () => Effect.void)
    })
    expectTypeOf(program).toEqualTypeOf<Effect.Effect<void, never, EventBus>>()
    expect(program).toBeDefined()
  })

  it("narrowing a BusEvent on `type` types its payload", () => {
    const payloadOf = (event: BusEvent) => {
      switch (event.type) {
        case "CandleClosed":
          expectTypeOf(event.payload).toEqualTypeOf<Candle>()
          return event.payload.close
        case "OrderCreated":
          expectTypeOf(event.payload).toEqualTypeOf<Order>()
          return event.payload.clientOrderId
        default:
          return undefined
      }
    }
    expect(payloadOf).toBeTypeOf("function")
  })

  it("publish fails only with the bus's typed errors", () => {
    type Publish = EventBus["Type"]["publish"]
    expectTypeOf<ReturnType<Publish>>().toEqualTypeOf<Effect.Effect<void, QueueFullError | BusClosedError>>()
    type Stats = Effect.Effect.Success<EventBus["Type"]["stats"]>
    expectTypeOf<keyof Stats>().toEqualTypeOf<"data" | "signal" | "order">()
    expectTypeOf<keyof Stats["order"]>().toEqualTypeOf<"size" | "capacity" | "dropped" | "processed" | "failed">()
  })
})
