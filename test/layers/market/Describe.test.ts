import { describe, expect, it } from "@effect/vitest"
import { makeThrottle, redact, sample } from "../../../src/layers/market/internal/binance/Describe.js"

describe("the collector's descriptions", () => {
  it("throttles a warning to one per interval, counting the ones left unsaid", () => {
    const throttle = makeThrottle(5_000)
    expect(throttle(0)).toBe(0)
    expect(throttle(100)).toBeUndefined()
    expect(throttle(4_999)).toBeUndefined()
    expect(throttle(5_000)).toBe(2)
    expect(throttle(20_000)).toBe(0)
  })

  it("escapes control and non-ASCII characters and cuts a sample", () => {
    expect(sample("\x1b[31mred\u00e9\u2603")).toBe("\\x1b[31mred\\xe9\\u2603")
    expect(sample(new Uint8Array([0x1b, 0x41, 0xff]))).toBe("\\x1bA\\xff")
    expect(sample("y".repeat(201))).toBe(`${"y".repeat(200)}...`)
    expect(sample(new Uint8Array(1000).fill(0x1b))).toMatch(/^(\\x1b)+\.\.\.$/)
  })

  it("redacts the credentials of every URL in a text", () => {
    expect(redact("GET http://key:hunter2@127.0.0.1:1/api and wss://u:p@h/x")).toBe(
      "GET http://***@127.0.0.1:1/api and wss://***@h/x"
    )
    expect(redact("no credentials: https://api.binance.com/api/v3/klines")).toBe(
      "no credentials: https://api.binance.com/api/v3/klines"
    )
  })
})
