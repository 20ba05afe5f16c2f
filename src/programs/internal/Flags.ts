import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { BigDecimal, Config, Duration, Effect, Option } from "effect"
import { parseDuration } from "../../domain/DurationText.js"
import { ConfigurationError } from "../ConfigurationError.js"

/**
 * Flags that check their own value while the command line is parsed, so
 * that a bad value is refused with one line naming the flag (or the
 * environment variable it came from), the value and what is accepted:
 * @effect/cli's own messages ("'abc' is not a integer") name neither.
 * Each flag's help says what it accepts and its default.
 */
export interface FlagSpec<A> {
  readonly name: string
  /** What the usage line shows for the value: "integer", "sim|binance". */
  readonly pseudo: string
  readonly description: string
  /** What is accepted, for the help and the error: "a whole number from 1 to 1000". */
  readonly accepted: string
  readonly parse: (text: string) => Option.Option<A>
  /** An environment variable read when the flag is absent (an empty value counts as unset). */
  readonly env?: string
}

/** The one-line message a refused value prints, as for any other configuration error. */
export const refusal = (flag: string, value: string, accepted: string) =>
  ValidationError.invalidValue(HelpDoc.p(
    `trading-bus: ${new ConfigurationError({ flag, value, reason: `expected ${accepted}` }).message}`
  ))

const describe = <A>(spec: FlagSpec<A>, shown: string | undefined) =>
  `${spec.description} (${spec.accepted}${shown === undefined ? "" : `; default ${shown}`}${
    spec.env === undefined ? "" : `; env ${spec.env}`
  })`

const check = <A>(spec: FlagSpec<A>, source: string, text: string) =>
  Option.match(spec.parse(text.trim()), {
    onNone: () => Effect.fail(refusal(source, text, spec.accepted)),
    onSome: Effect.succeed
  })

const parsed = <A>(spec: FlagSpec<A>, shown: string | undefined) =>
  Options.text(spec.name).pipe(
    Options.withPseudoName(spec.pseudo),
    Options.optional,
    Options.withDescription(describe(spec, shown)),
    Options.mapEffect((given) =>
      Effect.gen(function*() {
        if (Option.isSome(given)) return Option.some(yield* check(spec, `--${spec.name}`, given.value))
        if (spec.env === undefined) return Option.none<A>()
        const fromEnv = yield* Config.option(Config.string(spec.env)).pipe(
          Effect.orElseSucceed(() => Option.none<string>())
        )
        if (Option.isNone(fromEnv) || fromEnv.value.trim() === "") return Option.none<A>()
        return Option.some(yield* check(spec, spec.env, fromEnv.value))
      })
    )
  )

/** A checked flag that may be absent; `shown` describes, in the help, what absent means (when it depends on other flags). */
export const optional = <A>(spec: FlagSpec<A>, shown?: string): Options.Options<Option.Option<A>> => parsed(spec, shown)

/** A checked flag with a default (shown in the help as `shown`, else as the value itself). */
export const withDefault = <A>(spec: FlagSpec<A>, fallback: A, shown: string = String(fallback)): Options.Options<A> =>
  parsed(spec, shown).pipe(Options.map(Option.getOrElse(() => fallback)))

// Decimal notation only: "0x10", "1_000" or "Infinity" are not numbers a user means.
const integerText = /^[+-]?\d+$/
const decimalText = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

/** A whole number from `min` to `max`. */
export const integer = (name: string, range: { readonly min: number; readonly max: number }, description: string, env?: string): FlagSpec<number> => ({
  name,
  pseudo: "integer",
  description,
  accepted: `a whole number from ${range.min} to ${range.max}`,
  parse: (text) => {
    const n = Number(text)
    return integerText.test(text) && Number.isSafeInteger(n) && n >= range.min && n <= range.max
      ? Option.some(n)
      : Option.none()
  },
  ...(env === undefined ? {} : { env })
})

/** A whole number, or a grid `from:to:step` of them (`5:20:5` is 5, 10, 15, 20), each from `min` to `max`. */
export const integerGrid = (
  name: string,
  range: { readonly min: number; readonly max: number },
  description: string
): FlagSpec<{ readonly values: ReadonlyArray<number>; readonly grid: boolean }> => {
  const one = integer(name, range, description)
  return {
    name,
    pseudo: "integer|from:to:step",
    description,
    accepted: `${one.accepted}, or a grid from:to:step of them with from <= to and a step of at least 1`,
    parse: (text) => {
      if (!text.includes(":")) return Option.map(one.parse(text), (n) => ({ values: [n], grid: false }))
      const parts = text.split(":")
      if (parts.length !== 3 || !parts.every((p) => Option.isSome(one.parse(p.trim())) || /^\d+$/.test(p.trim()))) return Option.none()
      const [from, to, step] = parts.map(Number) as [number, number, number]
      if (from > to || step < 1 || Option.isNone(one.parse(String(from))) || Option.isNone(one.parse(String(to)))) return Option.none()
      return Option.some({ values: Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step), grid: true })
    }
  }
}

/** A number from `min` to `max`. */
export const number = (name: string, range: { readonly min: number; readonly max: number }, description: string): FlagSpec<number> => ({
  name,
  pseudo: "number",
  description,
  accepted: `a number from ${range.min} to ${range.max}`,
  parse: (text) => {
    const n = Number(text)
    return decimalText.test(text) && Number.isFinite(n) && n >= range.min && n <= range.max ? Option.some(n) : Option.none()
  }
})

/** A decimal above 0 and at most `max`, kept as the text given (money is exact). */
export const positiveDecimal = (name: string, max: string, description: string): FlagSpec<string> => ({
  name,
  pseudo: "decimal",
  description,
  accepted: `a decimal above 0 and at most ${max}`,
  parse: (text) =>
    Option.filter(
      decimalText.test(text) && !/e/i.test(text) ? BigDecimal.fromString(text) : Option.none(),
      (d) => BigDecimal.isPositive(d) && BigDecimal.lessThanOrEqualTo(d, BigDecimal.unsafeFromString(max))
    ).pipe(Option.as(text))
})

/** A duration from `min` to `max` ("30s", "500ms", "5m", "1h" or "30 seconds"), kept as the text given. */
export const duration = (
  name: string,
  range: { readonly min: Duration.DurationInput; readonly max: Duration.DurationInput; readonly shown: string },
  description: string
): FlagSpec<string> => ({
  name,
  pseudo: "duration",
  description,
  accepted: `a duration ${range.shown}, such as 500ms, 30s, 5m or 1h`,
  parse: (text) =>
    Option.filter(
      parseDuration(text),
      (d) => Duration.isFinite(d) && Duration.between(d, { minimum: range.min, maximum: range.max })
    ).pipe(Option.as(text))
})

/** One of `choices`. */
export const choice = <const C extends ReadonlyArray<string>>(
  name: string,
  choices: C,
  description: string,
  env?: string
): FlagSpec<C[number]> => ({
  name,
  pseudo: choices.join("|"),
  description,
  accepted: choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(", ")}`,
  parse: (text) => Option.fromNullable(choices.find((c) => c === text)),
  ...(env === undefined ? {} : { env })
})

/** Any text `valid` accepts (a path, an address), described by `accepted`. */
export const text = (
  name: string,
  accepted: string,
  description: string,
  options: { readonly env?: string; readonly valid?: (text: string) => boolean } = {}
): FlagSpec<string> => ({
  name,
  pseudo: "text",
  description,
  accepted,
  parse: (value) => (options.valid ?? ((t: string) => t.length > 0))(value) ? Option.some(value) : Option.none(),
  ...(options.env === undefined ? {} : { env: options.env })
})
