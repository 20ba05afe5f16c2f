import { ConfigError, Data } from "effect"

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
    return this.value === undefined
      ? `invalid ${this.flag}: ${this.reason}`
      : `invalid ${this.flag} ${redactCredentials(JSON.stringify(this.value))}: ${this.reason}`
  }
}

/** A URL's user and password (`wss://key:secret@host`) never reach the terminal or a log. */
export const redactCredentials = (text: string): string => text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s"]*@/gi, "$1***@")

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/**
 * The layers' own config errors name their option (`setting` or `option`);
 * the flags are those names in kebab case. An error naming an environment
 * variable (`variable`) keeps that name as it is.
 */
export const asConfigurationError = (error: unknown): ConfigurationError | undefined => {
  if (error instanceof ConfigurationError) return error
  if (ConfigError.isConfigError(error)) return fromConfigError(error)
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

/** The first variable a ConfigError blames, with its message (`And`/`Or` hold several). */
const firstInvalid = (error: ConfigError.ConfigError): { readonly path: ReadonlyArray<string>; readonly message: string } => {
  switch (error._op) {
    case "And":
    case "Or":
      return firstInvalid(error.left)
    default:
      return error
  }
}

/**
 * An environment variable that cannot be read (`TRADING_BUS_DATA_CAPACITY=abc`):
 * the path is the variable's name, its value is read back from the
 * environment, for the message only.
 */
const fromConfigError = (error: ConfigError.ConfigError): ConfigurationError => {
  const { message, path } = firstInvalid(error)
  const variable = path.join("_")
  const value = typeof process === "object" ? process.env[variable] : undefined
  return new ConfigurationError({ flag: variable, value, reason: message })
}

/** The system error code (`EADDRINUSE`, ...) somewhere in a cause chain. */
const errorCode = (cause: unknown): string | undefined => {
  for (let c = cause, depth = 0; typeof c === "object" && c !== null && depth < 5; depth++) {
    if ("code" in c && typeof c.code === "string") return c.code
    c = "cause" in c ? c.cause : undefined
  }
  return undefined
}

// the address is not this machine's, or does not resolve: the host is to blame, not the port
const hostCodes = new Set(["EADDRNOTAVAIL", "ENOTFOUND", "EAI_AGAIN", "EAI_NONAME"])

/**
 * A server that cannot listen, blamed on the flag to fix: the host flag when
 * the address is not this machine's, the port flag otherwise (in use, or
 * reserved for root).
 */
export const cannotListen = (options: {
  readonly host: string
  readonly port: number
  readonly hostFlag: string
  readonly portFlag: string
  readonly cause: unknown
  /** What else the user may do, such as "or 0 to disable the metrics server". */
  readonly otherwise?: string
}): ConfigurationError => {
  const code = errorCode(options.cause) ?? "unknown error"
  const otherwise = options.otherwise === undefined ? "" : `, ${options.otherwise}`
  return hostCodes.has(code)
    ? new ConfigurationError({
      flag: options.hostFlag,
      value: options.host,
      reason: `cannot listen on ${options.host} (${code}): give an address of this machine, such as 127.0.0.1 or 0.0.0.0`
    })
    : new ConfigurationError({
      flag: options.portFlag,
      value: options.port,
      reason: `cannot listen on ${options.host}:${options.port} (${
        code === "EADDRINUSE" ? "in use" : code
      }): pick another port${otherwise}`
    })
}
