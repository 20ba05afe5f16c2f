import { Metric, MetricBoundaries, MetricKey, MetricLabel, type MetricKeyType, MetricPair, MetricState } from "effect"

/**
 * Every metric trading-bus records, in Effect's global registry. The names
 * are a contract dashboards rely on: change them only with the dashboards.
 *
 * Record through `labelled(metric, ...labelNames)` rather than
 * `Metric.tagged` on a hot path: `Metric.tagged` builds and hashes a new
 * metric key on every update, a labelled metric is built once per label
 * values and updates its cached hook.
 */

type AnyMetric = Metric.Metric<any, any, any>

/** The key behind each metric defined here, so that labelled copies can be built from the key itself. */
const keys = new WeakMap<AnyMetric, MetricKey.MetricKey.Untyped>()

const define = <Type extends MetricKeyType.MetricKeyType<any, any>>(key: MetricKey.MetricKey<Type>) => {
  const metric = Metric.fromMetricKey(key)
  keys.set(metric, key)
  return metric
}

const counter = (name: string, description: string): Metric.Metric.Counter<number> =>
  define(MetricKey.counter(name, { description, incremental: true }))

const gauge = (name: string, description: string): Metric.Metric.Gauge<number> =>
  define(MetricKey.gauge(name, { description }))

const histogram = (name: string, boundaries: ReadonlyArray<number>, description: string) =>
  define(MetricKey.histogram(name, MetricBoundaries.fromIterable(boundaries), description))

/**
 * Bucket boundaries growing exponentially by the 1-2-5 series (factor 2 to 2.5) from `start`, a power of ten,
 * up to `end`, which closes the list; readable `le` values ("0.00002", "0.5").
 */
export const exponentialBoundaries = (start: number, end: number): ReadonlyArray<number> => {
  const out: Array<number> = []
  for (let exponent = Math.round(Math.log10(start));; exponent++) {
    for (const mantissa of [1, 2, 5]) {
      const bound = Number(`${mantissa}e${exponent}`)
      if (bound >= end) return [...out, end]
      out.push(bound)
    }
  }
}

/**
 * A function from label values (in `labelNames`' order) to the metric with
 * those labels, built once per distinct values and cached. Only for the
 * metrics of this module.
 */
export const labelled = <M extends AnyMetric>(metric: M, ...labelNames: ReadonlyArray<string>) => {
  const key = keys.get(metric)
  if (key === undefined) throw new Error("labelled: not a metric of trading-bus's Metrics module")
  const cache = new Map<string, M>()
  return (...values: ReadonlyArray<string>): M => {
    const id = values.length === 1 ? values[0]! : values.join("\u0000")
    let tagged = cache.get(id)
    if (tagged === undefined) {
      const labels = labelNames.map((name, i) => MetricLabel.make(name, values[i] ?? ""))
      tagged = Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels)) as M
      cache.set(id, tagged)
    }
    return tagged
  }
}

/**
 * A histogram kept in Effect counters, in Prometheus's own layout: a
 * cumulative `<name>_bucket{le}` per bound (`+Inf` included), `<name>_sum`
 * and `<name>_count`. Effect's histogram takes one update per observation
 * (60-110 ns here, with an allocation, and no bulk form); counters add any
 * amount at once, so a recorder can count observations in plain numbers and
 * add them in bulk (see `registerFlusher`). `PrometheusExporter` renders the
 * counters as one `histogram` family; `assembleHistograms` turns them back
 * into histogram states for any other reader of `Metric.snapshot`.
 */
export interface CountedHistogram {
  readonly name: string
  readonly description: string
  /** The finite upper bounds, ascending. */
  readonly boundaries: ReadonlyArray<number>
  readonly labelNames: ReadonlyArray<string>
  /** The series with these label values, in `labelNames`' order. */
  readonly series: (...values: ReadonlyArray<string>) => CountedHistogramSeries
}

export interface CountedHistogramSeries {
  /**
   * Adds observations: `counts[i]` of them at most `boundaries[i]` (and above
   * the bound before), `counts[boundaries.length]` above every bound; `sum`
   * is their total.
   */
  readonly add: (counts: ArrayLike<number>, sum: number) => void
  /** Exports the series at 0 before its first observation (every bucket, `_sum` and `_count`). */
  readonly register: () => void
}

type CountedPart = "bucket" | "sum" | "count"

/** The counters behind each counted histogram, by counter name. */
const countedParts = new Map<string, readonly [CountedHistogram, CountedPart]>()

const noTags: ReadonlyArray<never> = []

const countedHistogram = (
  name: string,
  boundaries: ReadonlyArray<number>,
  description: string,
  labelNames: ReadonlyArray<string>
): CountedHistogram => {
  const les = [...boundaries.map(String), "+Inf"]
  const bucketOf = labelled(counter(`${name}_bucket`, description), ...labelNames, "le")
  const sumOf = labelled(counter(`${name}_sum`, description), ...labelNames)
  const countOf = labelled(counter(`${name}_count`, description), ...labelNames)
  const series = new Map<string, CountedHistogramSeries>()
  const histogram: CountedHistogram = {
    name,
    description,
    boundaries,
    labelNames,
    series: (...values) => {
      const id = values.join("\u0000")
      let found = series.get(id)
      if (found === undefined) {
        const buckets = les.map((le) => bucketOf(...values, le))
        const total = sumOf(...values)
        const count = countOf(...values)
        found = {
          register: () => {
            for (const bucket of buckets) bucket.register()
            total.register()
            count.register()
          },
          add: (counts, sum) => {
            let cumulated = 0
            for (let i = 0; i < buckets.length; i++) {
              cumulated += counts[i] ?? 0
              if (cumulated > 0) buckets[i]!.unsafeUpdate(cumulated, noTags)
            }
            if (cumulated === 0) return
            total.unsafeUpdate(sum, noTags)
            count.unsafeUpdate(cumulated, noTags)
          }
        }
        series.set(id, found)
      }
      return found
    }
  }
  for (const part of ["bucket", "sum", "count"] as const) countedParts.set(`${name}_${part}`, [histogram, part])
  return histogram
}

/**
 * A registry snapshot with the counters of each `CountedHistogram` replaced
 * by one histogram state per series, as Effect's own histograms appear in
 * it. Only `min` and `max` are not known: they read `NaN`.
 */
export const assembleHistograms = (
  snapshot: ReadonlyArray<MetricPair.MetricPair.Untyped>
): Array<MetricPair.MetricPair.Untyped> => {
  const out: Array<MetricPair.MetricPair.Untyped> = []
  interface Series {
    readonly histogram: CountedHistogram
    readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
    readonly buckets: Map<number, number>
    sum: number
    count: number
  }
  const assembled = new Map<string, Series>()
  for (const pair of snapshot) {
    const part = countedParts.get(pair.metricKey.name)
    if (part === undefined || !MetricState.isCounterState(pair.metricState)) {
      out.push(pair)
      continue
    }
    const [histogram, kind] = part
    const labels = pair.metricKey.tags.filter((label) => label.key !== "le")
    const id = [histogram.name, ...labels.map((l) => `${l.key}=${l.value}`).sort()].join("\u0000")
    let series = assembled.get(id)
    if (series === undefined) {
      series = { histogram, labels, buckets: new Map(), sum: 0, count: 0 }
      assembled.set(id, series)
    }
    const value = Number(pair.metricState.count)
    if (kind === "sum") series.sum = value
    else if (kind === "count") series.count = value
    else {
      const le = pair.metricKey.tags.find((label) => label.key === "le")?.value
      if (le !== undefined && le !== "+Inf") series.buckets.set(Number(le), value)
    }
  }
  for (const { buckets, count, histogram, labels, sum } of assembled.values()) {
    const key = MetricKey.taggedWithLabels(
      MetricKey.histogram(histogram.name, MetricBoundaries.fromIterable(histogram.boundaries), histogram.description),
      labels
    )
    const state = MetricState.histogram({
      buckets: [
        ...histogram.boundaries.map((bound) => [bound, buckets.get(bound) ?? 0] as const),
        [Number.POSITIVE_INFINITY, count] as const
      ],
      count,
      min: Number.NaN,
      max: Number.NaN,
      sum
    })
    out.push(MetricPair.unsafeMake(key, state))
  }
  return out
}

/**
 * Recorders that count on a hot path in plain numbers and add them to the
 * Effect metrics in bulk (the bus: see LaneMetrics) register here, so that
 * a reader can bring the registry up to date first: `flushPending` runs
 * them all. `PrometheusExporter.scrape` does; a reader of
 * `Metric.snapshot` that does not (an OpenTelemetry exporter) sees the
 * values as of the recorders' own periodic flush (the bus: every second).
 */
const pendingFlushers = new Set<() => void>()

/** Registers a flusher; the returned function unregisters it. */
export const registerFlusher = (flush: () => void): () => void => {
  pendingFlushers.add(flush)
  return () => {
    pendingFlushers.delete(flush)
  }
}

/** Adds everything recorded but not yet flushed to the Effect metrics. */
export const flushPending = (): void => {
  for (const flush of pendingFlushers) flush()
}

// The bus (recorded by MemoryEventBus)

export const queueSize = gauge("trading_bus_queue_size", "Events waiting in a bus queue.")
export const queueCapacity = gauge("trading_bus_queue_capacity", "Capacity of a bus queue.")
export const eventsPublishedTotal = counter(
  "trading_bus_events_published_total",
  "Events published on a bus queue, by event type."
)
export const eventsProcessedTotal = counter(
  "trading_bus_events_processed_total",
  "Events whose handlers all ran (successfully or not), by queue and event type."
)
export const eventsDroppedTotal = counter(
  "trading_bus_events_dropped_total",
  "Events pushed out of a sliding bus queue by newer ones."
)
export const handlerFailuresTotal = counter(
  "trading_bus_handler_failures_total",
  "Handler failures, defects and timeouts, by queue and handler."
)
/** 10 µs to 30 s. */
export const handlerDurationBoundaries = exponentialBoundaries(0.00001, 30)
/** A counted histogram (see `CountedHistogram`): the bus observes millions of handler calls a second. */
export const handlerDurationSeconds = countedHistogram(
  "trading_bus_handler_duration_seconds",
  handlerDurationBoundaries,
  "Time one handler took on one event, in seconds.",
  ["queue", "handler"]
)
/** 1 µs to 10 s. */
export const publishWaitBoundaries = exponentialBoundaries(0.000001, 10)
export const publishWaitSeconds = histogram(
  "trading_bus_publish_wait_seconds",
  publishWaitBoundaries,
  "Time a publisher waited for room in a bus queue, in seconds."
)

// The market-data collector (labels: source, or symbol)

export const collectorMessagesTotal = counter(
  "trading_bus_collector_messages_total",
  "Frames received by a market-data collector, well-formed or not."
)
export const collectorMalformedTotal = counter(
  "trading_bus_collector_malformed_total",
  "Frames a market-data collector skipped: not JSON, not a kline, or an unknown stream."
)
export const collectorReconnectsTotal = counter(
  "trading_bus_collector_reconnects_total",
  "Reconnects of a market-data collector."
)
export const collectorIgnoredTotal = counter(
  "trading_bus_collector_ignored_total",
  "Well-formed frames of streams a market-data collector does not handle (aggTrade, depth, bookTicker)."
)
export const collectorConnectionFailuresTotal = counter(
  "trading_bus_collector_connection_failures_total",
  "Connection attempts of a market-data collector that never opened (DNS, refused, TLS, timeout)."
)
export const collectorGapsTotal = counter(
  "trading_bus_collector_gaps_total",
  "Gaps a market-data collector gave up on: closed candles neither the stream nor the backfill delivered."
)
export const collectorConnected = gauge(
  "trading_bus_collector_connected",
  "1 when every connection of a market-data collector is open, 0 otherwise."
)
export const candleLagSeconds = gauge(
  "trading_bus_candle_lag_seconds",
  "Seconds between a symbol's last closed candle's close time and when it was published."
)

// The trading engine

export const signalsTotal = counter("trading_bus_signals_total", "Signals generated, by symbol and direction.")
export const ordersTotal = counter(
  "trading_bus_orders_total",
  "Orders by symbol, side and status (created, filled, rejected)."
)
export const position = gauge("trading_bus_position", "Net position quantity of a symbol (negative is short).")
export const pnlRealized = gauge("trading_bus_pnl_realized", "Realized P&L in the quote asset, fees included.")
export const pnlUnrealized = gauge("trading_bus_pnl_unrealized", "Unrealized P&L in the quote asset.")

// The broker's circuit breaker (recorded by CircuitBreakerBroker)

export const circuitBreakerState = gauge(
  "trading_bus_circuit_breaker_state",
  "State of the broker's circuit breaker: 0 closed, 1 half-open, 2 open."
)

// Retries and dead letters (recorded by RetryingHandlers)

export const handlerRetriesTotal = counter(
  "trading_bus_handler_retries_total",
  "Retries of a failed handler on the signal or order queue, by handler."
)
export const deadLettersTotal = counter(
  "trading_bus_dead_letters_total",
  "Events whose handler exhausted its retries and went to the dead-letter table, by handler."
)

// The journal

export const journalPending = gauge(
  "trading_bus_journal_pending",
  "Events the order journal holds as not done: in flight now, or recovered at the next start."
)

// The Redis bus (recorded by RedisEventBus, sampled every second)

export const redisLagSeconds = gauge(
  "trading_bus_redis_lag_seconds",
  "Seconds from the publish of the last entry this process handled on a queue (its stream id) to its handling."
)
export const redisPending = gauge(
  "trading_bus_redis_pending",
  "Entries of a queue's streams read by a consumer and not yet acknowledged."
)
export const redisStreamLength = gauge(
  "trading_bus_redis_stream_length",
  "Entries in a queue's streams: waiting to be read, or read and not yet acknowledged."
)
export const redisLeaseOwned = gauge(
  "trading_bus_redis_lease_owned",
  "1 for each partition whose lease this process holds (it reads that partition's streams), 0 otherwise."
)

// The Binance broker (recorded by BinanceBroker and its REST client)

export const binanceUsedWeight = gauge(
  "trading_bus_binance_used_weight",
  "The request weight Binance says this IP used in the current minute (X-MBX-USED-WEIGHT-1M of the last answer)."
)
export const binanceRateLimitedTotal = counter(
  "trading_bus_binance_rate_limited_total",
  "Requests Binance refused with 429 or 418, each waited out for its Retry-After and sent again."
)
export const binanceUnknownTotal = counter(
  "trading_bus_binance_unknown_total",
  "Orders sent whose outcome was unknown (a timeout, a dropped connection, a 5XX, -1006/-1007): asked for, never sent blind."
)
export const binanceUserDataReconnectsTotal = counter(
  "trading_bus_binance_user_data_reconnects_total",
  "Reconnections of the user data stream (each followed by a resubscription and a reconciliation)."
)
