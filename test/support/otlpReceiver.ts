import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

/** An OTLP attribute value, as the JSON encoding carries it. */
interface AnyValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  readonly intValue?: number | string
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values: ReadonlyArray<AnyValue> }
}

interface KeyValue {
  readonly key: string
  readonly value: AnyValue
}

/** One span as the receiver got it, its attributes and its resource's flattened to plain values. */
export interface ReceivedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Record<string, unknown>
  readonly status: { readonly code: number; readonly message?: string }
  readonly resource: Record<string, unknown>
  readonly scope: string
}

export interface ReceivedRequest {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly spans: number
}

const plain = (value: AnyValue): unknown => {
  if (value.stringValue !== undefined) return value.stringValue
  if (value.boolValue !== undefined) return value.boolValue
  if (value.intValue !== undefined) return Number(value.intValue)
  if (value.doubleValue !== undefined) return value.doubleValue
  if (value.arrayValue !== undefined) return value.arrayValue.values.map(plain)
  return undefined
}

const record = (attributes: ReadonlyArray<KeyValue> | undefined) =>
  Object.fromEntries((attributes ?? []).map(({ key, value }) => [key, plain(value)]))

/**
 * A real OTLP/HTTP receiver on 127.0.0.1 (a free port) for JSON-encoded
 * traces: every POST's body is parsed as an `ExportTraceServiceRequest` and
 * its spans kept; it answers 200 with an empty `ExportTraceServiceResponse`.
 * A body that is not OTLP JSON gets a 400 and is recorded in `rejected`.
 * Spans count as received once their request's body has arrived.
 */
export const startOtlpReceiver = (options: {
  /** Answer each request this much later, like a slow collector. */
  readonly delayMs?: number
} = {}) =>
  new Promise<{
    /** The base URL, such as http://127.0.0.1:43123 (traces at `${url}/v1/traces`). */
    readonly url: string
    readonly spans: Array<ReceivedSpan>
    readonly requests: Array<ReceivedRequest>
    readonly rejected: Array<string>
    readonly close: () => Promise<void>
  }>((resolve) => {
    const spans: Array<ReceivedSpan> = []
    const requests: Array<ReceivedRequest> = []
    const rejected: Array<string> = []
    const server = createServer((req, res) => {
      if (req.method !== "POST") {
        res.writeHead(405).end()
        return
      }
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8")
        try {
          if (!String(req.headers["content-type"]).startsWith("application/json")) throw new Error("not JSON")
          const data = JSON.parse(body) as {
            resourceSpans: ReadonlyArray<{
              resource: { attributes: ReadonlyArray<KeyValue> }
              scopeSpans: ReadonlyArray<{
                scope: { name: string }
                spans: ReadonlyArray<{
                  name: string
                  traceId: string
                  spanId: string
                  parentSpanId?: string
                  attributes: ReadonlyArray<KeyValue>
                  status: { code: number; message?: string }
                }>
              }>
            }>
          }
          if (!Array.isArray(data.resourceSpans)) throw new Error("no resourceSpans")
          let count = 0
          for (const rs of data.resourceSpans) {
            const resource = record(rs.resource.attributes)
            for (const ss of rs.scopeSpans) {
              for (const span of ss.spans) {
                count++
                spans.push({
                  name: span.name,
                  traceId: span.traceId,
                  spanId: span.spanId,
                  parentSpanId: span.parentSpanId,
                  attributes: record(span.attributes),
                  status: span.status,
                  resource,
                  scope: ss.scope.name
                })
              }
            }
          }
          requests.push({ path: req.url ?? "", headers: req.headers, spans: count })
          const answer = () => res.writeHead(200, { "content-type": "application/json" }).end("{}")
          if (options.delayMs === undefined) answer()
          else setTimeout(answer, options.delayMs)
        } catch (error) {
          rejected.push(`${String(error)}: ${body.slice(0, 200)}`)
          res.writeHead(400, { "content-type": "application/json" }).end("{}")
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        spans,
        requests,
        rejected,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

export type OtlpReceiver = Awaited<ReturnType<typeof startOtlpReceiver>>
