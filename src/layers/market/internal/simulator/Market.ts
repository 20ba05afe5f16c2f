/**
 * The simulated market: one walk per symbol, the kept history, and the one
 * clock that advances every symbol together.
 */
import { Clock, Duration, Effect } from "effect"
import { klineEvent, klineStream } from "./Protocol.js"
import { initialState, type Kline, snapshot, step, subSteps, type WalkSpec } from "./RandomWalk.js"

export interface MarketConfig {
  readonly specs: ReadonlyArray<WalkSpec>
  readonly interval: string
  readonly intervalMs: number
  readonly startTime: number
  /** Open-kline frames before each closing frame: 0 to `subSteps - 1`. */
  readonly updatesPerCandle: number
  /** Real milliseconds per candle. */
  readonly candleMillis: number
  /** Closed candles kept per symbol. */
  readonly history: number
}

interface SymbolMarket {
  readonly spec: WalkSpec
  readonly stream: string
  path: ReturnType<typeof step>["path"]
  next: ReturnType<typeof step>["next"]
  readonly history: Array<Kline>
}

export interface Market {
  /** Closed candles kept for an upper-case symbol, ascending by open time; undefined for an unknown symbol. */
  readonly history: (symbol: string) => ReadonlyArray<Kline> | undefined
  readonly knownStream: (stream: string) => boolean
  readonly candlesServed: () => number
  /** The exchange's simulated time at a real (Clock) time. */
  readonly simulatedTime: (realMillis: number) => number
  /**
   * The generator: per candle, `updatesPerCandle` open frames then the
   * closing frame for every symbol, evenly spaced over `candleMillis` of
   * Clock time from when it starts. Before each step it waits for
   * `awaitRoom` (the sockets' send buffers): time spent there pauses the
   * market, so a slow reader slows it down rather than filling memory.
   * Never returns.
   */
  readonly run: (
    publish: (stream: string, rawEvent: string) => void,
    awaitRoom: Effect.Effect<void>
  ) => Effect.Effect<never>
}

const macrotask = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/** `onPrice` hears every frame's last price (an 8-decimal string), so resting orders can match against the walk. */
export const makeMarket = (
  config: MarketConfig,
  onPrice: (symbol: string, price: string, eventTime: number) => void = () => {}
): Market => {
  let startedAt: number | undefined
  const symbols: Array<SymbolMarket> = config.specs.map((spec) => {
    const { next, path } = step(spec, initialState(spec))
    return { spec, stream: klineStream(spec.symbol, config.interval), path, next, history: [] }
  })
  const bySymbol = new Map(symbols.map((s) => [s.spec.symbol, s]))
  const streams = new Set(symbols.map((s) => s.stream))
  const phases = config.updatesPerCandle + 1
  let served = 0
  let lastEventTime = config.startTime

  /** Phase j (1-based) of candle k: partial frames for j < phases, then the close. */
  const emit = (k: number, j: number, publish: (stream: string, rawEvent: string) => void): number => {
    const eventTime = config.startTime + k * config.intervalMs + Math.floor((j * config.intervalMs) / phases)
    const closing = j === phases
    for (const s of symbols) {
      const kline = snapshot(s.path, closing ? subSteps : Math.floor((j * subSteps) / phases))
      publish(s.stream, klineEvent(kline, eventTime))
      onPrice(s.spec.symbol, kline.close, eventTime)
      if (closing) {
        s.history.push(kline)
        if (s.history.length > config.history) s.history.shift()
        served++
        const advanced = step(s.spec, s.next)
        s.path = advanced.path
        s.next = advanced.next
      }
    }
    return eventTime
  }

  return {
    history: (symbol) => bySymbol.get(symbol)?.history,
    knownStream: (stream) => streams.has(stream),
    candlesServed: () => served,
    // never ahead of the last frame sent: a walk running behind its schedule is the market's time
    simulatedTime: (realMillis) =>
      startedAt === undefined ? config.startTime : Math.min(
        lastEventTime,
        config.startTime + Math.floor(((realMillis - startedAt) * config.intervalMs) / config.candleMillis)
      ),
    run: (publish, awaitRoom) =>
      Effect.gen(function*() {
        let start = yield* Clock.currentTimeMillis
        startedAt = start
        for (let phase = 1;; phase++) {
          // deadlines from the start, not sleeps in a row, so the pace does not drift
          const due = start + (phase * config.candleMillis) / phases
          const now = yield* Clock.currentTimeMillis
          // behind schedule, a real macrotask between steps lets the sockets (and /metrics) run
          yield* due > now ? Effect.sleep(Duration.millis(due - now)) : macrotask
          const before = yield* Clock.currentTimeMillis
          yield* awaitRoom
          // a pause moves the market's start, so that its time stays in step with its candles
          start += (yield* Clock.currentTimeMillis) - before
          startedAt = start
          lastEventTime = emit(Math.floor((phase - 1) / phases), ((phase - 1) % phases) + 1, publish)
        }
      })
  }
}
