import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import { decimalFromNumber, formatAmount, formatDecimal } from "../../src/domain/Decimal.js"

describe("Decimal", () => {
  it.each([
    ["0", "0"],
    ["42000.10", "42000.1"],
    ["-0.5", "-0.5"],
    ["1200", "1200"],
    ["0.000000000000000001", "0.000000000000000001"],
    ["-123.45678901234567890123", "-123.45678901234567890123"]
  ])("formats %s as the plain string %s, never with an exponent", (input, output) => {
    expect(formatDecimal(BigDecimal.unsafeFromString(input))).toBe(output)
  })

  it("formats a decimal scaled past its digits", () => {
    expect(formatDecimal(BigDecimal.make(12n, -3))).toBe("12000")
  })

  it("takes a market-data number through its shortest round-trip string", () => {
    expect(formatDecimal(decimalFromNumber(0.1 + 0.2))).toBe("0.30000000000000004")
    expect(formatDecimal(decimalFromNumber(42000.12))).toBe("42000.12")
    expect(formatDecimal(decimalFromNumber(0.00001234))).toBe("0.00001234")
  })

  it.each([
    ["-28.25367903882032888457", 8, "-28.25367904"],
    ["0.000000125", 8, "0.00000012"], // half-even: a tie goes to the even digit
    ["0.000000135", 8, "0.00000014"],
    ["-0.000000001", 8, "0"],
    ["0.10", 8, "0.1"],
    ["1234.5", 0, "1234"],
    ["2.5", 0, "2"],
    ["0.00002859", 8, "0.00002859"]
  ] as const)("formatAmount(%s, %d) is %s: rounded half-even, trailing zeros dropped", (input, decimals, output) => {
    expect(formatAmount(BigDecimal.unsafeFromString(input), decimals)).toBe(output)
    expect(formatAmount(input, decimals)).toBe(output)
  })
})
