import { Cause, Option } from "effect"

/** A Cause in one line: the typed error's message, the defect's, or "interrupted". */
export const summarize = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  const error: unknown = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (error === undefined) return Cause.isInterruptedOnly(cause) ? "interrupted" : "failed"
  if (error instanceof Error || (typeof error === "object" && error !== null && "message" in error)) {
    const message = String((error as { message: unknown }).message)
    const tag = (error as { _tag?: unknown })._tag ?? (error instanceof Error ? error.name : undefined)
    return `${Option.isSome(failure) ? "" : "defect: "}${typeof tag === "string" ? `${tag}: ` : ""}${message}`
  }
  return `${Option.isSome(failure) ? "" : "defect: "}${String(error)}`
}
