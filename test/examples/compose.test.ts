import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { main } from "../../examples/compose.js"

describe("examples/compose.ts", () => {
  it.live("provides the bus to a program of its own and drains it", () =>
    Effect.gen(function*() {
      const result = yield* main
      expect(result).toEqual({ signals: ["BTCUSDT crossed 42000"], processed: 5 })
    }))
})
