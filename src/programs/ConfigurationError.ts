import { Data } from "effect"

/**
 * A command-line flag or setting the engine cannot start with. The program
 * prints its message and exits with code 2.
 */
export class ConfigurationError extends Data.TaggedError("ConfigurationError")<{
  /** The flag to fix, such as "--duration", or an environment variable, such as "OTEL_EXPORTER_OTLP_ENDPOINT". */
  readonly flag: string
  readonly value: unknown
  readonly reason: string
}> {
  override get message() {
    return `invalid ${this.flag} ${JSON.stringify(this.value)}: ${this.reason}`
  }
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/**
 * The layers' own config errors name their option (`setting` or `option`);
 * the flags are those names in kebab case. An error naming an environment
 * variable (`variable`) keeps that name as it is.
 */
export const asConfigurationError = (error: unknown): ConfigurationError | undefined => {
  if (error instanceof ConfigurationError) return error
  if (typeof error !== "object" || error === null || !("_tag" in error)) return undefined
  const tag = String((error as { _tag: unknown })._tag)
  if (!tag.endsWith("ConfigError")) return undefined
  const e = error as {
    setting?: string
    option?: string
    variable?: string
    value?: unknown
    reason?: string
    message?: string
  }
  const flag = e.variable ?? `--${kebab(e.setting ?? e.option ?? "unknown")}`
  return new ConfigurationError({ flag, value: e.value, reason: e.reason ?? e.message ?? tag })
}
