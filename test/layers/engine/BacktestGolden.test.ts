import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { readFileSync } from "node:fs"
import { formatDecimal } from "../../../src/domain/Decimal.js"
import * as Backtest from "../../../src/layers/engine/Backtest.js"
import * as Sma from "../../../src/layers/trading/SmaCrossoverStrategy.js"

/**
 * The backtest's results before its speed-up, kept as a fixture (test/fixtures/backtest/sma-9-21-golden.json,
 * written by the runner as it was at commit 862407c): SMA 9/21 on both sample files, both fill models, long-only
 * and with shorts. A faster runner must give the same fills and the same statistics, to the last digit.
 */
interface Golden {
  readonly file: string
  readonly quoteAmount: string
  readonly maxPositionNotional: string
  readonly capital: string
  readonly fill: Backtest.FillModel
  readonly allowShort: boolean
  readonly fills: ReadonlyArray<ReadonlyArray<string | number>>
  readonly report: Record<string, unknown>
}

const golden: ReadonlyArray<Golden> = JSON.parse(readFileSync("test/fixtures/backtest/sma-9-21-golden.json", "utf8"))

describe("Backtest: the same results as before the speed-up", () => {
  for (const g of golden) {
    it.live(`${g.file.split("/").pop()} fill=${g.fill} allowShort=${g.allowShort}`, () =>
      Effect.gen(function*() {
        const details = yield* Backtest.runDetailed({
          candles: g.file,
          quoteAmount: g.quoteAmount,
          maxPositionNotional: g.maxPositionNotional,
          capital: g.capital,
          fill: g.fill,
          allowShort: g.allowShort,
          strategy: Layer.orDie(Sma.layer({ fast: 9, slow: 21 }))
        }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger)))
        const fills = details.fills.map((f) => [f.filledAt, f.side, formatDecimal(f.quantity), formatDecimal(f.price), formatDecimal(f.fee)])
        expect(fills).toEqual(g.fills)
        const report = details.report as unknown as Record<string, unknown>
        expect(Object.fromEntries(Object.keys(g.report).map((k) => [k, report[k]]))).toEqual(g.report)
      }), 60_000)
  }
})
