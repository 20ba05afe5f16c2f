/**
 * What the simulator can be told to do wrong, for tests and `trading-bus
 * simulate`: the failures that make trading bots lose or duplicate orders.
 */
export interface FaultState {
  /** New orders still to drop before the exchange sees them: the connection closes, nothing is placed. */
  dropOrderRequests: number
  /** New orders still to accept and then answer by closing the socket, no response. */
  dropOrderResponses: number
  /** New orders still to accept and then answer only after `holdMillis` (a slow exchange; a client may die waiting). */
  holdOrderResponses: number
  holdMillis: number
  /** New orders still to accept and then answer with `failStatus` (5XX, -1007: execution status unknown). */
  failAfterAccept: number
  failStatus: number
  /** Added to the server's clock, ms. */
  clockSkewMillis: number
  /** Requests still to refuse with `rateLimitStatus` (429 or 418) and `Retry-After`. */
  rateLimited: number
  rateLimitStatus: 429 | 418
  retryAfterSeconds: number
  /** Parts a MARKET order fills in: the first at once, one more at each later price. */
  marketParts: number
  /** Close every user-data socket right after the next partial fill is reported. */
  dropUserDataOnPartialFill: boolean
}

export const noFaults = (): FaultState => ({
  dropOrderRequests: 0,
  dropOrderResponses: 0,
  holdOrderResponses: 0,
  holdMillis: 0,
  failAfterAccept: 0,
  failStatus: 503,
  clockSkewMillis: 0,
  rateLimited: 0,
  rateLimitStatus: 429,
  retryAfterSeconds: 1,
  marketParts: 1,
  dropUserDataOnPartialFill: false
})
