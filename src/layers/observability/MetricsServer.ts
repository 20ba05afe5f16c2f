import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { ServeError } from "@effect/platform/HttpServerError"
import { NodeHttpServer } from "@effect/platform-node"
import { BigDecimal, Context, Effect, Layer, Option, Stream } from "effect"
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import type { QueueName } from "../../domain/BusEvent.js"
import * as Metrics from "../../domain/Metrics.js"
import { EventBus } from "../../services/EventBus.js"
import { MarketData } from "../../services/MarketData.js"
import { Journal } from "../../services/Journal.js"
import { Portfolio } from "../../services/Portfolio.js"
import * as PrometheusExporter from "./PrometheusExporter.js"
import { makeWebFeed, type WebFeed, type WebFeedOptions } from "./internal/web/WebFeed.js"
import { webPage } from "./internal/web/webPage.js"

export interface MetricsServerOptions {
  /** Default 9464 (the OpenTelemetry Prometheus exporter's); 0 picks a free port. */
  readonly port?: number
  /** Default "127.0.0.1": only this machine. */
  readonly host?: string
  /** Which metrics `/metrics` serves; see `PrometheusExporter.render`. Default `"trading_bus_"`. */
  readonly prefix?: string
  /**
   * The live web view at `/` (updated over Server-Sent Events at `/events`): true, or its options. Default off.
   * It subscribes to the bus when the server starts: events handled before are not shown.
   */
  readonly web?: boolean | WebFeedOptions
}

/** The metrics and health endpoints, for as long as the layer's scope is open. */
export class MetricsServer extends Context.Tag("trading-bus/MetricsServer")<MetricsServer, {
  /** The port bound, the chosen one when the option was 0. */
  readonly port: number
  readonly host: string
  /** `http://host:port`. */
  readonly url: string
  /** The web view's feed, when it is on. */
  readonly web: WebFeed | undefined
}>() {}

/** lightweight-charts' standalone build, from this package's own dependency: the page needs no network. */
const chartsScript = (() => {
  let script: string | undefined
  return () => {
    const manifest = createRequire(import.meta.url).resolve("lightweight-charts/package.json")
    script ??= readFileSync(join(dirname(manifest), "dist", "lightweight-charts.standalone.production.js"), "utf8")
    return script
  }
})()

/** The web view's routes: the page, its charting script and the event stream. */
const webRoutes = (feed: WebFeed) => <E, R>(router: HttpRouter.HttpRouter<E, R>) =>
  router.pipe(
    HttpRouter.get("/", HttpServerResponse.html(webPage)),
    HttpRouter.get(
      "/assets/lightweight-charts.js",
      Effect.sync(() =>
        HttpServerResponse.text(chartsScript(), {
          contentType: "text/javascript; charset=utf-8",
          headers: { "cache-control": "max-age=3600" }
        })
      )
    ),
    HttpRouter.get(
      "/events",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const stream = yield* feed.connect(request.headers["last-event-id"])
        return HttpServerResponse.stream(Stream.encodeText(stream), {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
        })
      })
    )
  )

/** A queue above this share of its capacity makes the engine not ready. */
export const readyQueueThreshold = 0.9

export interface Readiness {
  readonly status: "ready" | "not ready"
  readonly checks: {
    readonly collector: "connected" | "disconnected"
    /** The queues above the threshold, as "size/capacity"; empty when none is. */
    readonly queues: { readonly [Q in QueueName]?: string }
  }
}

const queueSize = Metrics.labelled(Metrics.queueSize, "queue")
const queueCapacity = Metrics.labelled(Metrics.queueCapacity, "queue")
const position = Metrics.labelled(Metrics.position, "symbol")
const collectorConnected = Metrics.labelled(Metrics.collectorConnected, "source")

const make = (options: MetricsServerOptions) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const marketData = yield* MarketData
    const portfolio = yield* Effect.serviceOption(Portfolio)
    const journal = yield* Effect.serviceOption(Journal)
    const renderOptions = options.prefix === undefined ? {} : { prefix: options.prefix }
    const web = options.web === undefined || options.web === false
      ? undefined
      : yield* makeWebFeed(options.web === true ? {} : options.web)

    /** The gauges that are read rather than recorded, refreshed before each scrape. */
    const refresh = Effect.gen(function*() {
      const stats = yield* bus.stats
      for (const [queue, s] of Object.entries(stats)) {
        queueSize(queue).unsafeUpdate(s.size, [])
        queueCapacity(queue).unsafeUpdate(s.capacity, [])
      }
      collectorConnected(marketData.name).unsafeUpdate((yield* marketData.stats).connected ? 1 : 0, [])
      if (Option.isSome(portfolio)) {
        for (const p of yield* portfolio.value.positions) {
          position(p.symbol).unsafeUpdate(BigDecimal.unsafeToNumber(p.quantity), [])
        }
        const pnl = yield* portfolio.value.pnl
        Metrics.pnlRealized.unsafeUpdate(BigDecimal.unsafeToNumber(pnl.realized), [])
        Metrics.pnlUnrealized.unsafeUpdate(BigDecimal.unsafeToNumber(pnl.unrealized), [])
      }
      if (Option.isSome(journal)) {
        // a journal that cannot be read leaves the gauge as it was; the scrape still answers
        const pending = yield* Effect.option(journal.value.pending)
        if (Option.isSome(pending)) Metrics.journalPending.unsafeUpdate(pending.value.length, [])
      }
    })

    const readiness = Effect.gen(function*() {
      const connected = (yield* marketData.stats).connected
      const queues: Partial<Record<QueueName, string>> = {}
      for (const [queue, s] of Object.entries(yield* bus.stats)) {
        if (s.size > s.capacity * readyQueueThreshold) queues[queue as QueueName] = `${s.size}/${s.capacity}`
      }
      const ready = connected && Object.keys(queues).length === 0
      return {
        status: ready ? "ready" : "not ready",
        checks: { collector: connected ? "connected" : "disconnected", queues }
      } satisfies Readiness
    })

    const router = HttpRouter.empty.pipe(
      HttpRouter.get(
        "/metrics",
        Effect.zipRight(refresh, PrometheusExporter.scrape(renderOptions)).pipe(
          Effect.map((body) => HttpServerResponse.text(body, { contentType: PrometheusExporter.contentType }))
        )
      ),
      // The server runs inside the bus's scope and closes before it: answering means the bus is open.
      HttpRouter.get("/health/live", HttpServerResponse.json({ status: "live" })),
      HttpRouter.get(
        "/health/ready",
        Effect.flatMap(readiness, (r) => HttpServerResponse.json(r, { status: r.status === "ready" ? 200 : 503 }))
      ),
      web === undefined ? (router) => router : webRoutes(web),
      HttpRouter.catchAll((error) =>
        Effect.as(Effect.logError("metrics server: a request failed", error), HttpServerResponse.empty({ status: 500 }))
      )
    )
    yield* HttpServer.serveEffect(
      Effect.catchTag(router, "RouteNotFound", () => Effect.succeed(HttpServerResponse.text("not found\n", { status: 404 })))
    )

    // an open event stream would hold the server's close (and so the program's exit): end them first
    if (web !== undefined) yield* Effect.addFinalizer(() => web.disconnectAll)
    const address = (yield* HttpServer.HttpServer).address
    const port = address._tag === "TcpAddress" ? address.port : 0
    const host = options.host ?? "127.0.0.1"
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`
    yield* Effect.logInfo(
      `metrics server listening on ${url} (/metrics, /health/live, /health/ready${web === undefined ? "" : ", the web view at /"})`
    )
    return MetricsServer.of({ port, host, url, web })
  })

/**
 * Serves `GET /metrics` (Prometheus text format, the bus, collector and
 * engine metrics, pulled gauges refreshed first), `GET /health/live` and
 * `GET /health/ready` (503 with the failing checks as JSON) on Node's HTTP
 * server, for as long as its scope is open. Not providing the layer is how
 * a caller disables it. Fails with `ServeError` when the port cannot be bound.
 */
export const layer = (
  options: MetricsServerOptions = {}
): Layer.Layer<MetricsServer, ServeError, EventBus | MarketData> =>
  Layer.scoped(MetricsServer, make(options)).pipe(
    Layer.provide(
      NodeHttpServer.layer(() => createServer(), { port: options.port ?? 9464, host: options.host ?? "127.0.0.1" })
    )
  )
