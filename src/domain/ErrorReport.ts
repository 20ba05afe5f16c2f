import { Schema } from "effect"

/** The payload of an `Error` event: which component failed, a one-line message, and the pretty-printed Cause. */
export const ErrorReport = Schema.Struct({
  component: Schema.String,
  message: Schema.String,
  cause: Schema.String
})
export interface ErrorReport extends Schema.Schema.Type<typeof ErrorReport> {}
