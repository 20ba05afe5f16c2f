import { Data, Effect } from "effect"
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs"
import { createServer } from "node:net"
import { dirname, resolve } from "node:path"

/**
 * An engine option that cannot work, found before anything starts. `option` names it as the options do
 * ("metricsPort", "journal"); the program shows it as the flag (`--metrics-port`).
 */
export class EngineConfigError extends Data.TaggedError("EngineConfigError")<{
  readonly option: string
  readonly value: unknown
  readonly reason: string
}> {
  override get message() {
    return `invalid engine option ${this.option}=${JSON.stringify(this.value)}: ${this.reason}`
  }
}

const describe = (cause: unknown) => cause instanceof Error ? cause.message : String(cause)

/**
 * Creates a file's missing folders one level at a time. Node's `mkdirSync(..., { recursive: true })` spins
 * forever under /proc (ENOENT on a path whose parent exists), so the journal's own recursive mkdir is only
 * reached once every folder is there.
 */
export const ensureFolderOf = (option: string, file: string) =>
  Effect.try({
    try: () => {
      const missing: Array<string> = []
      let dir = dirname(resolve(file))
      while (!existsSync(dir)) {
        missing.unshift(dir)
        const parent = dirname(dir)
        if (parent === dir) break
        dir = parent
      }
      if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`)
      for (const folder of missing) mkdirSync(folder)
    },
    catch: (cause) =>
      new EngineConfigError({ option, value: file, reason: `cannot create its folder: ${describe(cause)}` })
  })

/** A file the run writes at its end: its folder must exist and be writable, and the file too when it exists. */
export const checkWritable = (option: string, file: string) =>
  Effect.try({
    try: () => {
      const path = resolve(file)
      const dir = dirname(path)
      if (!existsSync(dir)) throw new Error(`its folder ${dir} does not exist: create it, or give another path`)
      if (existsSync(path)) {
        if (statSync(path).isDirectory()) throw new Error("it is a folder")
        accessSync(path, constants.W_OK)
      } else {
        accessSync(dir, constants.W_OK)
      }
    },
    catch: (cause) => new EngineConfigError({ option, value: file, reason: `cannot write it: ${describe(cause)}` })
  })

/**
 * Binds the metrics port for a moment and lets it go, so that a busy port stops the engine before the
 * journal's recovery publishes anything (the server itself binds it again once the engine is built).
 */
export const checkPortFree = (option: string, host: string, port: number) =>
  Effect.async<void, EngineConfigError>((resume) => {
    const server = createServer()
    server.once("error", (cause: NodeJS.ErrnoException) =>
      resume(Effect.fail(
        // an address that is not this machine's (or does not resolve) is the host's fault, not the port's
        ["EADDRNOTAVAIL", "ENOTFOUND", "EAI_AGAIN"].includes(cause.code ?? "")
          ? new EngineConfigError({
            option: option.replace(/Port$/, "Host"),
            value: host,
            reason: `cannot listen on ${host} (${cause.code}): give an address of this machine, such as 127.0.0.1 or 0.0.0.0`
          })
          : new EngineConfigError({
          option,
          value: port,
          reason: `cannot listen on ${host}:${port} (${describe(cause)}): pick another port, or 0 to disable the metrics server`
        })
      )))
    server.listen(port, host, () => server.close(() => resume(Effect.void)))
    return Effect.sync(() => server.close())
  })
