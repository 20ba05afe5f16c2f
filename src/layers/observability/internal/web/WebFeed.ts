/**
 * What the live web view shows, kept in bounded memory and pushed to every browser over Server-Sent Events:
 * the bus's events as they are handled (the chosen symbol's candles, signals, orders and fills, errors) and a
 * status every second (queues and their rates, the collector, the breaker, positions and P&L, equity).
 *
 * A browser never holds up the engine: the bus handlers only append to arrays and offer to each client's
 * bounded buffer; a client whose buffer is full is dropped (its stream ends) and its EventSource reconnects
 * to a fresh snapshot.
 */
import { Clock, Deferred, Duration, Effect, Option, Queue, Stream } from "effect"
import type { Candle } from "../../../../domain/Candle.js"
import { formatAmount, formatDecimal, toNumber } from "../../../../domain/Decimal.js"
import type { QueueName } from "../../../../domain/BusEvent.js"
import { BreakerState } from "../../../execution/CircuitBreakerBroker.js"
import { EngineStats } from "../../../../services/EngineStats.js"
import { EventBus } from "../../../../services/EventBus.js"
import { MarketData } from "../../../../services/MarketData.js"
import { Portfolio } from "../../../../services/Portfolio.js"

export interface WebFeedOptions {
  /** The symbol whose candles the page charts; by default the first one that closes a candle. */
  readonly symbol?: string
  /** How often the status is pushed. Default 1 s. */
  readonly statusInterval?: Duration.DurationInput
  /** Messages a client may have unsent before it is dropped. Default 256. */
  readonly clientBuffer?: number
}

export interface WebFeed {
  /** A new client's stream: the SSE preamble and a snapshot, then every message; it ends when dropped. */
  readonly connect: (lastEventId: string | undefined) => Effect.Effect<Stream.Stream<string>>
  /** Clients connected now. */
  readonly clients: () => number
  /** Ends every client's stream (their browsers reconnect); how many there were. */
  readonly disconnectAll: Effect.Effect<number>
}

interface Client {
  readonly queue: Queue.Queue<string>
  readonly dropped: Deferred.Deferred<void>
}

/** Keeps the last `max` items of a list. */
const pushBounded = <A>(list: Array<A>, item: A, max: number) => {
  list.push(item)
  if (list.length > max) list.splice(0, list.length - max)
}

const secondsOf = (millis: number) => Math.floor(millis / 1000)

const chartCandle = (c: Candle) => ({ time: secondsOf(c.openTime), open: c.open, high: c.high, low: c.low, close: c.close })

export const makeWebFeed = (options: WebFeedOptions = {}) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const marketData = yield* MarketData
    const portfolio = yield* Effect.serviceOption(Portfolio)
    const engineStats = yield* Effect.serviceOption(EngineStats)
    const breaker = yield* Effect.serviceOption(BreakerState)
    const clientBuffer = options.clientBuffer ?? 256

    let symbol = options.symbol?.toUpperCase()
    const candles: Array<ReturnType<typeof chartCandle>> = []
    const markers: Array<{ time: number; side: string; price: string; quantity: string }> = []
    const equity: Array<{ time: number; value: number }> = []
    const signals: Array<unknown> = []
    const orders: Array<unknown> = []
    const errors: Array<unknown> = []
    let status: unknown = undefined
    const clients = new Set<Client>()
    let seq = 0

    const drop = (client: Client) => {
      clients.delete(client)
      Deferred.unsafeDone(client.dropped, Effect.void)
    }
    const message = (event: string, data: unknown) => `id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    const broadcast = (event: string, data: unknown) => {
      if (clients.size === 0) return void ++seq
      const text = message(event, data)
      for (const client of clients) if (!client.queue.unsafeOffer(text)) drop(client)
    }

    yield* bus.subscribe("CandleClosed", (e) =>
      Effect.sync(() => {
        symbol ??= e.payload.symbol
        if (e.payload.symbol !== symbol) return
        const candle = chartCandle(e.payload)
        pushBounded(candles, candle, 500)
        broadcast("candle", candle)
      }), { name: "web-view:candles" })
    yield* bus.subscribe("SignalGenerated", (e) =>
      Effect.sync(() => {
        const signal = { ...e.payload }
        pushBounded(signals, signal, 50)
        broadcast("signal", signal)
      }), { name: "web-view:signals" })
    for (const type of ["OrderCreated", "OrderRejected"] as const) {
      yield* bus.subscribe(type, (e) =>
        Effect.sync(() => {
          const o = e.payload
          const order = { event: type, clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, quantity: formatDecimal(o.quantity), price: formatDecimal(o.price), status: o.status, time: o.updatedAt, reason: o.reason }
          pushBounded(orders, order, 50)
          broadcast("order", order)
        }), { name: `web-view:${type}` })
    }
    yield* bus.subscribe("OrderFilled", (e) =>
      Effect.sync(() => {
        const f = e.payload
        const fill = { event: "OrderFilled", clientOrderId: f.clientOrderId, symbol: f.symbol, side: f.side, quantity: formatDecimal(f.quantity), price: formatDecimal(f.price), fee: formatDecimal(f.fee), status: f.status, time: f.filledAt }
        pushBounded(orders, fill, 50)
        if (f.symbol === symbol) {
          // on the candle it filled in: the last one charted
          const marker = { time: candles.at(-1)?.time ?? secondsOf(f.filledAt), side: f.side, price: fill.price, quantity: fill.quantity }
          pushBounded(markers, marker, 500)
          broadcast("marker", marker)
        }
        broadcast("order", fill)
      }), { name: "web-view:fills" })
    yield* bus.subscribe("Error", (e) =>
      Effect.sync(() => {
        const error = { component: e.payload.component, message: e.payload.message, time: e.timestamp }
        pushBounded(errors, error, 50)
        // not "error": an EventSource fires its own "error" events on connection trouble
        broadcast("bus-error", error)
      }), { name: "web-view:errors" })

    /** The status: counters and rates since the last one, positions and P&L, and an equity point. */
    let last: { readonly at: number; readonly processed: Record<string, number> } | undefined
    const sampleStatus = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const stats = yield* bus.stats
      const processed = Object.fromEntries(Object.entries(stats).map(([q, s]) => [q, s.processed]))
      const elapsed = last === undefined ? 0 : (now - last.at) / 1000
      const queues = Object.fromEntries(Object.entries(stats).map(([q, s]) => [q, {
        ...s,
        perSecond: elapsed > 0 ? Math.round((s.processed - last!.processed[q]!) / elapsed) : 0
      }])) as Record<QueueName, unknown>
      last = { at: now, processed }
      const positions = Option.isSome(portfolio) ? yield* portfolio.value.positions : []
      const pnl = Option.isSome(portfolio) ? yield* portfolio.value.pnl : undefined
      if (pnl !== undefined) pushBounded(equity, { time: secondsOf(now), value: toNumber(pnl.realized) + toNumber(pnl.unrealized) }, 3600)
      status = {
        time: now,
        symbol,
        queues,
        collector: { name: marketData.name, ...(yield* marketData.stats) },
        breaker: Option.isSome(breaker) ? (yield* breaker.value.snapshot).status : "none",
        engine: Option.isSome(engineStats) ? yield* engineStats.value.snapshot : undefined,
        positions: positions.map((p) => ({
          symbol: p.symbol,
          quantity: formatDecimal(p.quantity),
          averageEntryPrice: formatDecimal(p.averageEntryPrice),
          markPrice: formatDecimal(p.markPrice),
          // money for people: at the quote asset's precision on Binance (8 decimals), as the terminal shows it
          realizedPnl: formatAmount(p.realizedPnl),
          unrealizedPnl: formatAmount(p.unrealizedPnl)
        })),
        pnl: pnl === undefined ? undefined : { realized: formatAmount(pnl.realized), unrealized: formatAmount(pnl.unrealized) },
        equity: equity[equity.length - 1],
        clients: clients.size
      }
      broadcast("status", status)
    })
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(sampleStatus, Effect.sleep(options.statusInterval ?? "1 second"))))

    const snapshot = (lastEventId: string | undefined) => ({
      symbol, candles, markers, equity, signals, orders, errors, status, resumedFrom: lastEventId ?? null
    })

    const feed: WebFeed = {
      connect: (lastEventId) =>
        Effect.gen(function*() {
          const client: Client = { queue: yield* Queue.bounded<string>(clientBuffer), dropped: yield* Deferred.make<void>() }
          // the preamble: reconnect after 1 s; then the whole state, so a reconnecting page needs nothing older
          client.queue.unsafeOffer(`retry: 1000\n${message("snapshot", snapshot(lastEventId))}`)
          clients.add(client)
          return Stream.fromQueue(client.queue).pipe(
            Stream.merge(Stream.tick("15 seconds").pipe(Stream.drop(1), Stream.as(": keep-alive\n\n"))),
            Stream.interruptWhen(Deferred.await(client.dropped)),
            Stream.ensuring(Effect.sync(() => clients.delete(client)))
          )
        }),
      clients: () => clients.size,
      disconnectAll: Effect.sync(() => {
        const n = clients.size
        for (const client of [...clients]) drop(client)
        return n
      })
    }
    return feed
  })
