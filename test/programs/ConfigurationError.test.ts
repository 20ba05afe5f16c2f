import { describe, expect, it } from "@effect/vitest"
import { BinanceConfigError } from "../../src/layers/market/BinanceMarketData.js"
import { asConfigurationError, ConfigurationError } from "../../src/programs/ConfigurationError.js"

describe("ConfigurationError", () => {
  it("keeps a URL's credentials out of the line it prints (--ws-url ftp://key:s3cret@host)", () => {
    const error = asConfigurationError(
      new BinanceConfigError({ option: "wsUrl", value: "ftp://key:s3cret@host", reason: "protocol must be ws: or wss:" })
    )
    expect(error?.message).toBe(`invalid --ws-url "ftp://***@host": protocol must be ws: or wss:`)
    expect(new ConfigurationError({ flag: "--rest-url", value: "http://u:p@h:1/x", reason: "r" }).message).not.toContain("u:p")
  })
})
