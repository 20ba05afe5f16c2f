import { existsSync } from "node:fs"

/**
 * A module of the compiled package (`dist/`, built by `npm run bench:backtest`), typed as its source. The backtest
 * bench measures the package as the installed CLI and the package's users run it: through tsx, esbuild's
 * `keepNames` wraps every function made at run time in a `__name` call, which costs the engine (a closure per
 * handler call, per wait, per order) some 20-30% here and measures tsx, not the engine.
 */
export const compiled = async <A>(path: string): Promise<A> => {
  const file = new URL(`../dist/${path}`, import.meta.url)
  if (!existsSync(file)) throw new Error(`the backtest bench runs the build: run \`npm run build\` first (no ${file.pathname})`)
  return import(file.href) as Promise<A>
}
