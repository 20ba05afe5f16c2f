import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, type Exit, Logger, LogLevel, Option, Tracer } from "effect"
import { makeEventAt } from "../../../src/domain/BusEvent.js"
import * as MemoryEventBus from "../../../src/layers/bus/MemoryEventBus.js"
import { EventBus } from "../../../src/services/EventBus.js"
import { candle, openBus, settle } from "../../support/fixtures.js"

interface Recorded {
  name: string
  attributes: Record<string, unknown>
  exit: Exit.Exit<unknown, unknown> | undefined
  hasParent: boolean
}

/** A Tracer that keeps every span it is asked for, ended or not. */
const captureSpans = () => {
  const spans: Array<Recorded> = []
  let ids = 0
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind) {
      const attributes = new Map<string, unknown>()
      const record: Recorded = {
        name,
        attributes: {},
        exit: undefined,
        hasParent: Option.isSome(parent)
      }
      spans.push(record)
      let status: Tracer.SpanStatus = { _tag: "Started", startTime }
      const id = String(++ids)
      return {
        _tag: "Span",
        name,
        spanId: id,
        traceId: id,
        parent,
        context,
        get status() {
          return status
        },
        attributes,
        links,
        sampled: true,
        kind,
        end(endTime, exit) {
          status = { _tag: "Ended", startTime, endTime, exit }
          record.exit = exit
          record.attributes = Object.fromEntries(attributes)
        },
        attribute(key, value) {
          attributes.set(key, value)
        },
        event() {},
        addLinks() {}
      }
    },
    context: (f) => f()
  })
  return { spans, tracer }
}

const closed = (n: number) => makeEventAt("CandleClosed", candle(n, n * 60_000), 0)

describe("MemoryEventBus tracing", () => {
  it.scoped("with tracing on, each handler call is a trading-bus.handler span with queue, handler, event type and id", () => {
    const { spans, tracer } = captureSpans()
    return Effect.gen(function*() {
      const { bus } = yield* openBus({ tracing: true })
      yield* bus.subscribe("CandleClosed", () => Effect.void, { name: "inline" })
      yield* bus.subscribe("CandleClosed", () => Effect.fail("boom"), { name: "failing" })
      yield* bus.subscribe("CandleClosed", () => Effect.yieldNow(), { name: "async" })
      const event = closed(1)
      yield* bus.publish(event)
      yield* settle
      const handlerSpans = spans.filter((s) => s.name === "trading-bus.handler")
      expect(handlerSpans.map((s) => s.attributes)).toEqual(["inline", "failing", "async"].map((handler) => ({
        queue: "data",
        handler,
        eventType: "CandleClosed",
        eventId: event.id
      })))
      expect(handlerSpans.map((s) => s.exit?._tag)).toEqual(["Success", "Failure", "Success"])
      // the failure is still counted as before
      expect((yield* bus.stats).data).toMatchObject({ processed: 1, failed: 1 })
    }).pipe(Effect.withTracer(tracer), Logger.withMinimumLogLevel(LogLevel.None))
  })

  it.scoped("with tracing off (the default), handlers run without a span", () => {
    const { spans, tracer } = captureSpans()
    return Effect.gen(function*() {
      const { bus } = yield* openBus()
      yield* bus.subscribe("CandleClosed", () => Effect.void)
      yield* bus.subscribe("CandleClosed", () => Effect.yieldNow())
      yield* bus.publishAll([closed(1), closed(2)])
      yield* settle
      expect((yield* bus.stats).data.processed).toBe(2)
      expect(spans).toEqual([])
    }).pipe(Effect.withTracer(tracer))
  })

  it.effect("reads TRADING_BUS_TRACING, default false", () =>
    Effect.gen(function*() {
      const { spans, tracer } = captureSpans()
      const once = (env: Record<string, string>) =>
        Effect.gen(function*() {
          const bus = yield* EventBus
          yield* bus.subscribe("CandleClosed", () => Effect.void)
          yield* bus.publish(closed(1))
          yield* settle
        }).pipe(
          Effect.provide(MemoryEventBus.layerFromEnv),
          Effect.scoped,
          Effect.withTracer(tracer),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
        )
      yield* once({})
      expect(spans.length).toBe(0)
      yield* once({ TRADING_BUS_TRACING: "true" })
      expect(spans.map((s) => s.name)).toEqual(["trading-bus.handler"])
    }))
})
