import { Duration, Option } from "effect"

const shortUnits: Record<string, (n: number) => Duration.Duration> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours,
  d: Duration.days
}

/** A duration from the command line: "30s", "500ms", "5m", "1h", or Effect's "30 seconds". */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim())
  if (short) return Option.some(shortUnits[short[2]!]!(Number(short[1])))
  return Duration.decodeUnknown(text.trim())
}
