import { BigDecimal, Clock, Console, Duration, Effect, Layer, Option } from "effect"
import { queueNames } from "../domain/BusEvent.js"
import { formatAmount, formatDecimal } from "../domain/Decimal.js"
import type { ErrorReport } from "../domain/ErrorReport.js"
import type { Signal } from "../domain/Signal.js"
import { EventBus } from "../services/EventBus.js"
import * as Logging from "./Logging.js"
import type { Snapshot } from "./Summary.js"

/** How many events/s samples the sparkline shows, and how many signals and errors the view lists. */
export const historyLength = 30
export const recentLength = 5

/** What the view remembers between frames. */
export interface DashboardHistory {
  /** Events processed per second over all queues, one sample per frame, oldest first. */
  readonly rates: ReadonlyArray<number>
  /** The last signals and errors seen on the bus, oldest first. */
  readonly signals: ReadonlyArray<Signal>
  readonly errors: ReadonlyArray<ErrorReport & { readonly at: number }>
  /** Since the engine started. */
  readonly uptimeMillis?: number
  /** The last log lines, shown in the view while it draws (absent: no panel). */
  readonly logs?: ReadonlyArray<string>
}

const sparks = "▁▂▃▄▅▆▇█"

/** One character per sample, scaled to the largest. */
export const sparkline = (samples: ReadonlyArray<number>): string => {
  const max = Math.max(0, ...samples)
  return samples.map((v) => max <= 0 ? sparks[0] : sparks[Math.min(7, Math.round((Math.max(0, v) / max) * 7))]).join("")
}

/** A gauge `[████░░░░]` of `value` out of `capacity`, `width` cells inside the brackets. */
export const bar = (value: number, capacity: number, width: number): string => {
  const filled = capacity <= 0 ? 0 : Math.min(width, Math.round((value / capacity) * width))
  // a queue that holds anything shows at least one cell
  const cells = value > 0 && filled === 0 ? 1 : filled
  return `[${"█".repeat(cells)}${"░".repeat(width - cells)}]`
}

const money = (d: BigDecimal.BigDecimal) => formatAmount(d)
const clock = (millis: number) => new Date(millis).toISOString().slice(11, 19)
const fit = (line: string, width: number) => line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`
const rule = (title: string, width: number) => `── ${title} ${"─".repeat(Math.max(0, width - title.length - 4))}`

/** The whole screen as text, each line at most `width` characters; no ANSI, so that it can be tested as is. */
export const render = (s: Snapshot, history: DashboardHistory, width: number): string => {
  const w = Math.max(40, width)
  const barWidth = Math.max(10, Math.min(40, w - 70))
  const rate = history.rates.length > 0 ? history.rates[history.rates.length - 1]! : 0
  const candles = Object.values(s.engine.candles).reduce((a, b) => a + b, 0)
  const uptime = history.uptimeMillis === undefined
    ? ""
    : ` ─ up ${Duration.format(Duration.seconds(Math.floor(history.uptimeMillis / 1000)))}`
  const lines = [
    rule(`trading-bus${uptime} ─ ${s.collector.connected ? "connected" : "DISCONNECTED"}`, w),
    "queues",
    ...queueNames.map((name) => {
      const q = s.bus[name]
      return `  ${name.padEnd(6)} ${bar(q.size, q.capacity, barWidth)} ${`${q.size}/${q.capacity}`.padStart(11)}` +
        `  dropped ${q.dropped}  failed ${q.failed}  processed ${q.processed}`
    }),
    `events/s ${rate.toFixed(1).padStart(9)} ${sparkline(history.rates)}  (max ${
      Math.max(0, ...history.rates).toFixed(1)
    }, last ${history.rates.length} samples)`,
    [
      `collector ${s.collector.connected ? "connected" : "DISCONNECTED"}`,
      `reconnects ${s.collector.reconnects}`,
      `connection failures ${s.collector.connectionFailures ?? 0}`,
      `messages ${s.collector.messages}`,
      `malformed ${s.collector.malformed}`,
      `backfilled ${s.collector.backfilled}`,
      `gaps ${s.collector.gaps ?? 0}`
    ].join("  "),
    [
      `engine   candles ${candles}`,
      `signals ${s.engine.signals}`,
      `orders ${s.engine.orders} (${s.engine.fills} filled, ${s.engine.rejected} rejected)`,
      `errors ${s.engine.errors}`
    ].join("  "),
    "positions",
    ...(s.positions.length === 0
      ? ["  none"]
      : s.positions.map((p) =>
        `  ${p.symbol.padEnd(10)} qty ${formatDecimal(p.quantity).padStart(14)}  entry ${money(p.averageEntryPrice)}  mark ${
          money(p.markPrice)
        }  unrealized ${money(p.unrealizedPnl)}  realized ${money(p.realizedPnl)}`
      )),
    `P&L      realized ${money(s.pnl.realized)}  unrealized ${money(s.pnl.unrealized)}  total ${
      money(BigDecimal.sum(s.pnl.realized, s.pnl.unrealized))
    }`,
    `last signals`,
    ...(history.signals.length === 0
      ? ["  none"]
      : history.signals.map((x) =>
        `  ${clock(x.timestamp)} ${x.symbol.padEnd(10)} ${x.direction.padEnd(5)} @ ${x.price}  ${x.strategy}: ${x.reason}`
      )),
    `last errors`,
    ...(history.errors.length === 0
      ? ["  none"]
      : history.errors.map((e) => `  ${clock(e.at)} ${e.component}: ${e.message.split("\n")[0]}`)),
    ...(history.logs === undefined
      ? []
      : ["last log lines", ...(history.logs.length === 0 ? ["  none"] : history.logs.map((line) => `  ${line}`))])
  ]
  return lines.map((line) => fit(line, w)).join("\n")
}

/** The last few signals and errors, filled by `recentEventsLayer`'s subscribers. */
export interface RecentEvents {
  readonly signals: Array<Signal>
  readonly errors: Array<ErrorReport & { readonly at: number }>
}

export const makeRecentEvents = (): RecentEvents => ({ signals: [], errors: [] })

const keepLast = <A>(items: Array<A>, item: A) => {
  items.push(item)
  if (items.length > recentLength) items.splice(0, items.length - recentLength)
}

/** A plugin for `engineLayer`: subscribes to SignalGenerated and Error and keeps the last few in `recent`. */
export const recentEventsLayer = (recent: RecentEvents): Layer.Layer<never, never, EventBus> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const bus = yield* EventBus
    yield* bus.subscribe("SignalGenerated", (e) => Effect.sync(() => keepLast(recent.signals, e.payload)), {
      name: "dashboard:signals"
    })
    yield* bus.subscribe("Error", (e) => Effect.sync(() => keepLast(recent.errors, { ...e.payload, at: e.timestamp })), {
      name: "dashboard:errors"
    })
  }))

export interface RedrawOptions {
  readonly every: Duration.DurationInput
  /** The terminal's size now (read each frame, so that a resize is followed). */
  readonly size: () => { readonly columns: number; readonly rows: number }
}

const esc = "\x1b["
/** The alternate screen, cursor hidden; `leave` restores the terminal, so that the summary prints on the normal one. */
const enter = `${esc}?1049h${esc}?25l${esc}2J`
const leave = `${esc}?25h${esc}?1049l`

/** Home, each line cleared to its end, and whatever the previous frame had below cleared: no flicker. */
export const frame = (text: string, rows: number) =>
  `${esc}H${
    text.split("\n").slice(0, Math.max(1, rows - 1)).map((line) => `${line}${esc}K`).join("\n")
  }${esc}J`

/** How many diverted log lines are kept to print once the view is gone (without `--log-file`). */
export const heldLogLines = 200

/**
 * While the view draws, log lines would be drawn over it: they go to the
 * view's panel instead, and (unless a `--log-file` has them) are printed on
 * stderr once the terminal is restored, the last `heldLogLines` of them.
 */
const divertLogs = Effect.gen(function*() {
  const output = yield* Effect.serviceOption(Logging.LogOutput)
  if (Option.isNone(output)) return undefined
  const recentLogs: Array<string> = []
  const held: Array<string> = []
  let dropped = 0
  const toFile = output.value.toFile
  // released after the divert (finalizers run in reverse): the held lines print once stderr is the terminal's again
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      if (dropped > 0) yield* Console.error(`trading-bus: ${dropped} earlier log lines were dropped (--log-file keeps them all)`)
      for (const text of held) yield* Console.error(text)
    })
  )
  yield* output.value.divert((text) => {
    keepLast(recentLogs, text.split("\n")[0]!)
    if (toFile) return
    held.push(text)
    if (held.length > heldLogLines) {
      held.shift()
      dropped++
    }
  })
  return recentLogs
})

/**
 * Redraws the view every `every` until interrupted, from the same snapshot
 * the status line prints; leaves the terminal as it found it.
 */
export const redraw = (snapshot: Effect.Effect<Snapshot>, recent: RecentEvents, options: RedrawOptions) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const rates: Array<number> = []
    let last = { processed: -1, at: started }
    const logs = yield* divertLogs
    // acquired last, released first: the terminal is restored before the log lines come back to it
    yield* Effect.acquireRelease(Console.log(enter), () => Console.log(leave))
    while (true) {
      const s = yield* snapshot
      const now = yield* Clock.currentTimeMillis
      const processed = queueNames.reduce((n, q) => n + s.bus[q].processed, 0)
      if (last.processed >= 0) {
        rates.push(((processed - last.processed) * 1000) / Math.max(1, now - last.at))
        if (rates.length > historyLength) rates.shift()
      }
      last = { processed, at: now }
      const { columns, rows } = options.size()
      const text = render(s, {
        rates,
        signals: recent.signals,
        errors: recent.errors,
        uptimeMillis: now - started,
        ...(logs === undefined ? {} : { logs })
      }, columns)
      yield* Console.log(frame(text, rows))
      yield* Effect.sleep(options.every)
    }
  }).pipe(Effect.scoped)
