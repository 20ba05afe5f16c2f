import { Duration, Option } from "effect"

const shortUnits: Record<string, (n: number) => Duration.Duration> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours,
  d: Duration.days
}

/**
 * A duration as people write it, on the command line or in the environment:
 * "30s", "500ms", "5m", "1h", "2d", or Effect's "30 seconds". Negative and
 * malformed texts are none.
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const trimmed = text.trim()
  const short = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(trimmed)
  if (short) return Option.some(shortUnits[short[2]!]!(Number(short[1])))
  // Effect's own form; its decoder turns "-1 seconds" into zero, so a sign is refused here
  if (!/^\d+(\.\d+)?\s+[a-z]+$/.test(trimmed)) return Option.none()
  return Duration.decodeUnknown(trimmed)
}
