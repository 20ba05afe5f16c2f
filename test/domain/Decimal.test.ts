import { describe, expect, it } from "@effect/vitest"
import { BigDecimal } from "effect"
import { add, decimalFromNumber, divideToScale, formatAmount, formatDecimal, subtract, toNumber } from "../../src/domain/Decimal.js"

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

  it("finds a number's decimal without its string exactly as the string gives it", () => {
    // a seeded walk over prices, quantities and fractions of every size; each compared with the string path
    let state = 7
    const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648
    const viaString = (n: number) => BigDecimal.unsafeFromString(String(n))
    const numbers = [0, -0, 1, 0.1, 1e-7, 1.5e-10, 123456789012345, 1234567890123456, 9007199254740993, 1e21, 5e-324, 0.1 + 0.2]
    for (let i = 0; i < 20_000; i++) {
      const v = Number((random() * 10 ** Math.floor(random() * 12)).toFixed(Math.floor(random() * 9)))
      numbers.push(v, -v, random() * 1000, random() * 1e-6)
    }
    for (const n of numbers) {
      const [fast, slow] = [decimalFromNumber(n), viaString(n)]
      expect([fast.value, fast.scale], String(n)).toEqual([slow.value, slow.scale])
    }
  })

  it("converts a decimal to the number unsafeToNumber gives, whatever its digits and scale", () => {
    let state = 11
    const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join("").replace(/^0+/, "") || "0"
    for (let i = 0; i < 20_000; i++) {
      const value = BigInt(digits(1 + Math.floor(random() * 30))) * (random() < 0.5 ? -1n : 1n)
      const d = BigDecimal.make(value, Math.floor(random() * 40) - 5)
      expect(toNumber(d), `${value}e${-d.scale}`).toBe(BigDecimal.unsafeToNumber(d))
    }
  })

  it.each([
    ["1.5", "0.25", "1.75", "1.25"],
    ["-1838.190900405617284", "12.5", "-1825.690900405617284", "-1850.690900405617284"],
    ["0", "0.001", "0.001", "-0.001"],
    ["100", "-100", "0", "200"]
  ])("adds and subtracts %s and %s at the larger scale, exactly as BigDecimal does", (a, b, sum, difference) => {
    const [x, y] = [BigDecimal.unsafeFromString(a), BigDecimal.unsafeFromString(b)]
    expect(formatDecimal(add(x, y))).toBe(sum)
    expect(formatDecimal(subtract(x, y))).toBe(difference)
    expect(BigDecimal.equals(add(x, y), BigDecimal.sum(x, y))).toBe(true)
    expect(BigDecimal.equals(subtract(x, y), BigDecimal.subtract(x, y))).toBe(true)
  })

  it.each([
    ["100", "30000.01", 6, "floor", "0.003333"],
    ["100", "3", 2, "floor", "33.33"],
    ["-100", "3", 2, "floor", "-33.34"],
    ["2", "3", 0, "half-even", "1"],
    ["5", "2", 0, "half-even", "2"], // a tie to the even digit
    ["7", "2", 0, "half-even", "4"],
    ["-5", "2", 0, "half-even", "-2"],
    ["-7", "2", 0, "half-even", "-4"],
    ["1", "0.0003", 15, "half-even", "3333.333333333333333"],
    ["12.5", "-0.5", 3, "floor", "-25"]
  ] as const)("divides %s by %s to %i decimals (%s) in integers: %s", (num, den, scale, mode, expected) => {
    const [a, b] = [BigDecimal.unsafeFromString(num), BigDecimal.unsafeFromString(den)]
    const exact = divideToScale(a, b, scale, mode)
    expect(formatDecimal(exact)).toBe(expected)
    // the same as Effect's 100-digit division rounded the same way
    const viaEffect = BigDecimal.round(BigDecimal.unsafeDivide(a, b), { scale, mode })
    expect(BigDecimal.equals(exact, viaEffect)).toBe(true)
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
