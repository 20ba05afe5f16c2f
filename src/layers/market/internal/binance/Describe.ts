/**
 * What the collector says about failures: URLs without their credentials,
 * socket errors with their host and cause, frames as short escaped samples.
 */
import type * as Socket from "@effect/platform/Socket"

/** `scheme://user:password@host` becomes `scheme://***@host`, wherever it appears in a text. */
export const redact = (text: string): string => text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/gi, "$1***@")

/** `host:port` of a URL, credentials left out; the URL itself (redacted) when it does not parse. */
export const hostOf = (url: string): string => {
  try {
    const parsed = new URL(url)
    const port = parsed.port || (parsed.protocol === "wss:" || parsed.protocol === "https:" ? "443" : "80")
    return `${parsed.hostname}:${port}`
  } catch {
    return redact(url)
  }
}

const tlsCodes = /^(EPROTO|ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_OSSL_)/

/** The Node error behind a socket error: `ws` wraps it in an ErrorEvent's `error`. */
const underlying = (cause: unknown): { readonly code?: string; readonly message: string } | undefined => {
  if (typeof cause === "string") return { message: cause }
  if (typeof cause !== "object" || cause === null) return undefined
  const c = cause as { readonly error?: unknown; readonly code?: unknown; readonly message?: unknown }
  if (typeof c.error === "object" && c.error !== null) return underlying(c.error)
  const message = typeof c.message === "string" ? c.message : String(cause)
  return typeof c.code === "string" ? { code: c.code, message } : { message }
}

/**
 * Why a WebSocket could not open, or ended, in one phrase naming the host:
 * DNS, refused, TLS, timeout, an HTTP answer instead of an upgrade, a close.
 */
export const describeSocketError = (url: string, error: Socket.SocketError): string => {
  const host = hostOf(url)
  if (error.reason === "Close") return redact(error.message)
  if (error.reason === "OpenTimeout") return `${host} did not complete the WebSocket handshake in time`
  const cause = underlying(error.cause)
  const code = cause?.code ?? ""
  const detail = redact(cause?.message ?? "unknown cause").split("\n")[0]!.slice(0, 200)
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
    return `DNS lookup of ${host.replace(/:\d+$/, "")} failed (${code})`
  }
  if (code === "ECONNREFUSED") return `connection to ${host} refused (ECONNREFUSED)`
  if (code === "ETIMEDOUT" || code === "ENETUNREACH" || code === "EHOSTUNREACH") return `${host} unreachable (${code})`
  if (code === "ECONNRESET") return `connection to ${host} reset (ECONNRESET)`
  if (tlsCodes.test(code)) return `TLS with ${host} failed (${code}): ${detail}`
  const http = /Unexpected server response: (\d+)/.exec(detail)
  if (http !== null) return `${host} answered HTTP ${http[1]} instead of a WebSocket upgrade`
  const phase = error.reason === "Open" ? "opening" : "reading from"
  return `${phase} ${host} failed${code === "" ? "" : ` (${code})`}: ${detail}`
}

/** How much of a frame goes into the log. */
export const sampleLength = 200

/**
 * A frame as a log sample: control and non-ASCII bytes escaped (a binary
 * frame would otherwise write raw escape sequences to the terminal), cut to
 * `sampleLength` characters.
 */
export const sample = (frame: string | Uint8Array): string => {
  const text = typeof frame === "string" ? frame : Buffer.from(frame.subarray(0, sampleLength)).toString("latin1")
  let out = ""
  for (let i = 0; i < text.length && out.length < sampleLength; i++) {
    const code = text.charCodeAt(i)
    out += code >= 0x20 && code < 0x7f
      ? text[i]
      : code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`
  }
  const cut = out.length >= sampleLength || text.length > sampleLength ||
    (typeof frame !== "string" && frame.length > sampleLength)
  return cut ? `${out.slice(0, sampleLength)}...` : out
}

/**
 * Rate-limits a warning: the first at once, then at most one per
 * `intervalMillis`, each saying how many were left unsaid since the last.
 * Returns the number suppressed before this one, or undefined to stay quiet.
 */
export const makeThrottle = (intervalMillis: number) => {
  let lastAt: number | undefined
  let suppressed = 0
  return (now: number): number | undefined => {
    if (lastAt !== undefined && now - lastAt < intervalMillis) {
      suppressed++
      return undefined
    }
    lastAt = now
    const before = suppressed
    suppressed = 0
    return before
  }
}
