/**
 * Binance's request security as the simulator enforces it: the API key
 * header, the signature over the exact payload sent, `timestamp` and
 * `recvWindow` (web-socket-api.md and rest-api.md, "Timing security").
 */
import { verify } from "../../../execution/internal/binance/signing.js"

/** A key the simulated account accepts: an HMAC secret, or an Ed25519 public key (PEM). */
export type SimulatorKey =
  | { readonly apiKey: string; readonly type: "HMAC"; readonly secret: string }
  | { readonly apiKey: string; readonly type: "Ed25519"; readonly publicKeyPem: string }

/** An error as Binance answers it: HTTP status, code and message. */
export interface ApiError {
  readonly status: number
  readonly code: number
  readonly msg: string
}

export const apiError = (status: number, code: number, msg: string): ApiError => ({ status, code, msg })
export const mandatory = (name: string) =>
  apiError(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`)
export const isApiError = (u: unknown): u is ApiError =>
  typeof u === "object" && u !== null && "code" in u && "msg" in u && "status" in u

const badKeyFormat = apiError(401, -2014, "API-key format invalid.")
const rejectedKey = apiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
export const badSignature = apiError(400, -1022, "Signature for this request is not valid.")

/** The payload a REST signature covers: the query string then the body, as sent, without the signature. */
export const restPayload = (rawQuery: string, body: string): { readonly payload: string; readonly signature?: string } => {
  let signature: string | undefined
  const strip = (s: string) =>
    s.split("&").filter((part) => {
      if (!part.startsWith("signature=")) return true
      signature = decodeURIComponent(part.slice("signature=".length).replace(/\+/g, " "))
      return false
    }).join("&")
  const payload = strip(rawQuery) + (body === "" ? "" : strip(body))
  return signature === undefined ? { payload } : { payload, signature }
}

/**
 * `timestamp` (ms, or µs when 16 digits) and `recvWindow` (default 5000, at most 60000, three decimals) against
 * the server's time: more than 1 s ahead, or older than the window, is -1021.
 */
export const checkTiming = (
  timestamp: string | undefined,
  recvWindow: string | undefined,
  serverTime: number
): ApiError | undefined => {
  if (timestamp === undefined || timestamp === "") return mandatory("timestamp")
  if (!/^[0-9]{1,20}$/.test(timestamp)) return mandatory("timestamp")
  const stamp = timestamp.length >= 16 ? Number(timestamp) / 1000 : Number(timestamp)
  let window = 5000
  if (recvWindow !== undefined && recvWindow !== "") {
    if (!/^[0-9]{1,5}(\.[0-9]{1,3})?$/.test(recvWindow)) return mandatory("recvWindow")
    window = Number(recvWindow)
    if (window > 60_000) return apiError(400, -1131, "recvWindow must be less than 60000")
  }
  if (stamp >= serverTime + 1000) {
    return apiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
  }
  if (serverTime - stamp > window) return apiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
  return undefined
}

/** The key of a request: -2014 without an API key, -2015 for one the account does not have. */
export const findKey = (keys: ReadonlyArray<SimulatorKey>, apiKey: string | undefined): SimulatorKey | ApiError => {
  if (apiKey === undefined || apiKey === "") return badKeyFormat
  return keys.find((k) => k.apiKey === apiKey) ?? rejectedKey
}

/** Whether `signature` is `key`'s over `payload`. */
export const signatureValid = (key: SimulatorKey, payload: string, signature: string): boolean =>
  key.type === "HMAC"
    ? verify("HMAC", key.secret, payload, signature)
    : verify("Ed25519", key.publicKeyPem, payload, signature)
