import type { BacktestReport } from "../Backtest.js"
import type { ParamValue } from "./sweepProtocol.js"

/** A sweep's grid and its ranking: pure functions. */

/** The report fields a sweep can rank by; the drawdowns rank lowest first. */
export const rankFields = [
  "sharpe",
  "sortino",
  "calmar",
  "totalReturnPct",
  "cagrPct",
  "profitFactor",
  "winRate",
  "maxDrawdownPct",
  "maxDrawdown",
  "exposurePct",
  "roundTrips"
] as const satisfies ReadonlyArray<keyof BacktestReport>

export type RankField = (typeof rankFields)[number]

export const lowerIsBetter = (field: RankField): boolean => field === "maxDrawdownPct" || field === "maxDrawdown"

/** Every combination of the grid's values, the first parameter varying slowest. */
export const combinationsOf = (
  grid: Readonly<Record<string, ReadonlyArray<ParamValue>>>
): Array<Record<string, ParamValue>> =>
  Object.entries(grid).reduce<Array<Record<string, ParamValue>>>(
    (combos, [key, values]) => combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v }))),
    [{}]
  )

const decimalsOf = (text: string) => (/\.(\d+)$/.exec(text)?.[1]?.length ?? 0)

/**
 * `from:to:step` as its values, `to` included when the steps reach it: "5:20:5" is 5, 10, 15, 20; decimals are
 * kept to the most the three texts show ("0.5:1.5:0.25"). A refusal says why, for the flag's message.
 */
export const parseRange = (
  text: string,
  options: { readonly integer: boolean; readonly max?: number }
): { readonly values: ReadonlyArray<number> } | { readonly refused: string } => {
  const parts = text.split(":")
  const pattern = options.integer ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)$/
  if (parts.length !== 3 || !parts.every((p) => pattern.test(p.trim()))) {
    return { refused: `from:to:step with ${options.integer ? "whole numbers" : "decimal numbers"}, such as 5:20:5` }
  }
  const [from, to, step] = parts.map((p) => Number(p.trim())) as [number, number, number]
  if (!(step > 0)) return { refused: "a step above 0 (from:to:step)" }
  if (from > to) return { refused: "from at most to (from:to:step)" }
  const count = Math.floor((to - from) / step + 1e-9) + 1
  if (count > (options.max ?? 10_000)) return { refused: `at most ${options.max ?? 10_000} values (from:to:step)` }
  const scale = 10 ** Math.max(...parts.map((p) => decimalsOf(p.trim())))
  return { values: Array.from({ length: count }, (_, i) => Math.round((from + i * step) * scale) / scale) }
}

/**
 * Orders reports by `field`, best first; a null (no losing candle for a sortino, no trade for a win rate) or a
 * non-finite value comes last; ties keep the grid's order.
 */
export const rankOrder = <A extends { readonly report: BacktestReport }>(entries: ReadonlyArray<A>, field: RankField): Array<A> => {
  const sign = lowerIsBetter(field) ? 1 : -1
  const valueOf = (a: A) => {
    const v = a.report[field]
    return typeof v === "number" && Number.isFinite(v) ? v : undefined
  }
  return entries
    .map((entry, index) => ({ entry, index, value: valueOf(entry) }))
    .sort((a, b) =>
      a.value === undefined || b.value === undefined
        ? (a.value === undefined ? 1 : 0) - (b.value === undefined ? 1 : 0) || a.index - b.index
        : sign * (a.value - b.value) || a.index - b.index
    )
    .map((x) => x.entry)
}
