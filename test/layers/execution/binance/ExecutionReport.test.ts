import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Either } from "effect"
import { decodeFrame, decodePush } from "../../../../src/layers/execution/internal/binance/ExecutionReport.js"

// user-data-stream.md's example executionReport, as a trade
const event = {
  e: "executionReport",
  E: 1499405658658,
  s: "ETHBTC",
  c: "mUvoqJxFIILMdfAW5iGSOW",
  S: "BUY",
  o: "LIMIT",
  f: "GTC",
  q: "1.00000000",
  p: "0.10264410",
  P: "0.00000000",
  F: "0.00000000",
  g: -1,
  C: "",
  x: "TRADE",
  X: "PARTIALLY_FILLED",
  r: "NONE",
  i: 4293153,
  l: "0.25000000",
  z: "0.25000000",
  L: "0.10264410",
  n: "0.00025000",
  N: "ETH",
  T: 1499405658657,
  t: 77,
  I: 8641984,
  w: true,
  m: false,
  M: false,
  O: 1499405658657,
  Z: "0.02566102",
  Y: "0.02566102",
  Q: "0.00000000",
  W: 1499405658657,
  V: "NONE"
}
const frame = (e: unknown) => JSON.stringify({ subscriptionId: 3, event: e })

describe("decodeFrame", () => {
  it("decodes an executionReport into readable names and exact decimals", () => {
    const decoded = Either.getOrThrow(decodeFrame(frame(event)))
    if (decoded._tag !== "Report") throw new Error(decoded._tag)
    expect(decoded.subscriptionId).toBe(3)
    const r = decoded.report
    expect(r).toMatchObject({
      symbol: "ETHBTC",
      clientOrderId: "mUvoqJxFIILMdfAW5iGSOW",
      origClientOrderId: undefined,
      side: "BUY",
      orderType: "LIMIT",
      executionType: "TRADE",
      status: "PARTIALLY_FILLED",
      rejectReason: "NONE",
      orderId: 4293153,
      commissionAsset: "ETH",
      tradeId: 77,
      transactTime: 1499405658657,
      eventTime: 1499405658658
    })
    expect(BigDecimal.format(r.lastQuantity)).toBe("0.25")
    expect(BigDecimal.format(r.cumulativeQuantity)).toBe("0.25")
    expect(BigDecimal.format(r.lastPrice)).toBe("0.1026441")
    expect(BigDecimal.format(r.commission)).toBe("0.00025")
    expect(BigDecimal.format(r.cumulativeQuote)).toBe("0.02566102")
    expect(BigDecimal.format(r.quantity)).toBe("1")
    expect(BigDecimal.format(r.price)).toBe("0.1026441")
  })

  it("reads no trade, no commission asset and a cancel's original id", () => {
    const decoded = Either.getOrThrow(decodeFrame(frame({ ...event, x: "CANCELED", X: "CANCELED", t: -1, N: null, C: "orig" })))
    if (decoded._tag !== "Report") throw new Error(decoded._tag)
    expect(decoded.report).toMatchObject({ tradeId: undefined, commissionAsset: undefined, origClientOrderId: "orig" })
  })

  it("names other events, and answers to requests", () => {
    expect(decodeFrame(frame({ e: "outboundAccountPosition", E: 1, u: 1, B: [] }))).toEqual(
      Either.right({ _tag: "OtherEvent", subscriptionId: 3, eventType: "outboundAccountPosition" })
    )
    expect(decodePush({ subscriptionId: 0, event: { e: "eventStreamTerminated", E: 1 } })).toEqual(
      Either.right({ _tag: "OtherEvent", subscriptionId: 0, eventType: "eventStreamTerminated" })
    )
    expect(decodeFrame(JSON.stringify({ id: "s-1", status: 400, error: { code: -2015, msg: "Invalid API-key" } }))).toEqual(
      Either.right({ _tag: "Response", id: "s-1", status: 400, result: undefined, error: { code: -2015, msg: "Invalid API-key" } })
    )
  })

  it("fails with a typed error naming the field and a truncated sample", () => {
    const bad = decodeFrame(frame({ ...event, l: 0.25, filler: "x".repeat(500) }))
    if (Either.isRight(bad)) throw new Error("decoded")
    expect(bad.left._tag).toBe("UserDataFrameError")
    expect(bad.left.reason).toContain("l")
    expect(bad.left.sample.length).toBeLessThanOrEqual(201)
    expect(Either.getLeft(decodeFrame("not json")).pipe((l) => l._tag === "Some" && l.value.reason)).toBe("not JSON")
    expect(Either.isLeft(decodeFrame(frame({ ...event, x: "SOMETHING" })))).toBe(true)
    expect(Either.isLeft(decodeFrame(JSON.stringify({ subscriptionId: "x", event: { e: "a" } })))).toBe(true)
    expect(Either.isLeft(decodeFrame(JSON.stringify([1, 2])))).toBe(true)
  })
})
