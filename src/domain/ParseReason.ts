import { ParseResult } from "effect"

/**
 * A ParseError in one short line for logs and dead letters: each wrong field's path and what is wrong (at most
 * three of them), not the whole schema a union error would print.
 */
export const parseReason = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const shown = issues.slice(0, 3).map((issue) => `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`)
  return issues.length > 3 ? `${shown.join("; ")}; and ${issues.length - 3} more` : shown.join("; ")
}
