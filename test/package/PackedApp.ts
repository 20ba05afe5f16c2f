/**
 * The project as a user gets it: `npm pack` (whose `prepack` builds dist/) in a copy of the project, then the
 * tarball installed with its peers into a fresh project in a temporary folder, offline, from npm's cache.
 */
import { Command, FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Context, Effect, Layer, Stream } from "effect"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))

/** The examples installed and run against the package: adding one is adding its path here. */
export const examples: ReadonlyArray<{ readonly path: string; readonly prints: ReadonlyArray<string> }> = [
  { path: "examples/compose.ts", prints: ["signals: BTCUSDT crossed 42000; candles processed: 5"] },
  { path: "examples/my-strategy.ts", prints: ["backtest ADABTC 1m: 1440 candles", "paper: "] },
  { path: "examples/promise.mjs", prints: ["BUY 0.001 BTCUSDT @ 42050.1", "afterClose: 'BusClosedError'", "candles {\"BTCUSDT\":"] }
]

/** The packages a source file imports by name (`node:` built-ins aside): its own, and the first folder of a scope. */
export const importedPackages = (source: string): ReadonlySet<string> => {
  // import/export ... from "x", import "x", import("x"): statements on one line or more
  const statements = /(?:^|\n)\s*(?:import|export)\s[^;]*?\bfrom\s*"([^"]+)"|(?:^|\n)\s*import\s*"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g
  const names = new Set<string>()
  for (const match of source.matchAll(statements)) {
    const specifier = match[1] ?? match[2] ?? match[3]!
    if (specifier.startsWith(".") || specifier.startsWith("node:")) continue
    const parts = specifier.split("/")
    names.add(specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!)
  }
  return names
}

interface Manifest {
  readonly name: string
  readonly version: string
  readonly files: ReadonlyArray<string>
  readonly bin: Record<string, string>
  readonly dependencies: Record<string, string>
  readonly peerDependencies: Record<string, string>
}
interface LockEntry {
  readonly version?: string
  readonly [key: string]: unknown
}

export interface Finished {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The packed project installed in `dir` (examples, a tsconfig and node_modules), and what `npm pack` reported. */
export class PackedApp extends Context.Tag("trading-bus/test/PackedApp")<PackedApp, {
  readonly dir: string
  readonly manifest: Manifest
  readonly packedFiles: ReadonlyArray<string>
  /** Runs a command in the app's folder, with npm's own environment variables removed. */
  readonly run: (command: string, ...args: Array<string>) => Effect.Effect<Finished, Error>
}>() {}

// A child npm must not inherit the npm that runs the tests (its prefix, package and lifecycle variables).
const childEnv = () =>
  Object.fromEntries(
    Object.entries(process.env).filter(([key]) =>
      !key.toLowerCase().startsWith("npm_") || /^npm_config_(cache|registry|userconfig)$/i.test(key)
    )
  )

const collect = <E>(stream: Stream.Stream<Uint8Array, E>) => stream.pipe(Stream.decodeText(), Stream.mkString)

const runIn = (cwd: string) => (command: string, ...args: Array<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* Command.make(command, ...args).pipe(
      Command.workingDirectory(cwd),
      Command.env({ ...childEnv(), NO_COLOR: "1" }, { extendEnv: false }),
      Command.start
    )
    const [stdout, stderr, code] = yield* Effect.all(
      [collect(child.stdout), collect(child.stderr), child.exitCode],
      { concurrency: 3 }
    )
    return { code: Number(code), stdout, stderr }
  })).pipe(
    Effect.mapError((cause) => new Error(`${command} ${args.join(" ")}: ${String(cause)}`)),
    Effect.provide(NodeContext.layer)
  )

/** Fails with the command's output unless it exits with 0. */
export const succeeded = ({ code, stderr, stdout }: Finished, what: string) =>
  code === 0 ? Effect.succeed(stdout) : Effect.fail(new Error(`${what} exited with ${code}\n${stdout}\n${stderr}`))

const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const manifest: Manifest = JSON.parse(yield* fs.readFileString(path.join(root, "package.json")))
  const lock: { packages: Record<string, LockEntry> } = JSON.parse(
    yield* fs.readFileString(path.join(root, "package-lock.json"))
  )
  const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "trading-bus-pack-" })

  // Packed from a copy, so that the build neither writes dist/ into the tree nor sees files being edited meanwhile.
  const project = path.join(tmp, "project")
  yield* fs.makeDirectory(project)
  for (const file of ["package.json", "tsconfig.json", "tsconfig.build.json", ...manifest.files]) {
    if (yield* fs.exists(path.join(root, file))) yield* fs.copy(path.join(root, file), path.join(project, file))
  }
  yield* fs.symlink(path.join(root, "node_modules"), path.join(project, "node_modules"))
  const pack = yield* runIn(project)("npm", "pack", "--json", "--pack-destination", tmp)
  const [packed]: Array<{ filename: string; files: Array<{ path: string }> }> = JSON.parse(
    yield* succeeded(pack, "npm pack")
  )

  // The user's project: the tarball and the peers, at the versions of our lockfile (which `npm ci` has cached).
  const dir = path.join(tmp, "app")
  yield* fs.makeDirectory(path.join(dir, "examples"), { recursive: true })
  const locked = (name: string) => {
    const version = lock.packages[`node_modules/${name}`]?.version
    return version === undefined ? Effect.fail(new Error(`${name} is not in package-lock.json`)) : Effect.succeed(version)
  }
  // What the examples import themselves (trading-signals, say) is the app's own dependency, as for a user.
  const exampleImports = new Set<string>()
  for (const { path: file } of examples) {
    for (const name of importedPackages(yield* fs.readFileString(path.join(root, file)))) exampleImports.add(name)
  }
  exampleImports.delete(manifest.name)
  const dependencies: Record<string, string> = { [manifest.name]: `file:../${packed!.filename}` }
  for (const name of [...Object.keys(manifest.peerDependencies), ...exampleImports, "@types/node"]) {
    dependencies[name] = yield* locked(name)
  }
  yield* fs.writeFileString(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "my-app", private: true, type: "module", dependencies }, null, 2)
  )
  // Our lockfile pins everything (npm ci prunes what the app does not need), so nothing is resolved anew:
  // the cache holds the packuments `npm ci` read and the tarballs it fetched, not newer versions.
  const { "": _root, ...entries } = lock.packages
  const packages = {
    "": { name: "my-app", dependencies },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: `file:../${packed!.filename}`,
      dependencies: manifest.dependencies,
      peerDependencies: manifest.peerDependencies,
      bin: manifest.bin
    },
    ...Object.fromEntries(
      Object.entries(entries).map(([key, { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry }]) => [
        key,
        entry
      ])
    )
  }
  yield* fs.writeFileString(
    path.join(dir, "package-lock.json"),
    JSON.stringify({ name: "my-app", lockfileVersion: 3, requires: true, packages }, null, 2)
  )
  const run = runIn(dir)
  // Install scripts are skipped: better-sqlite3's would download a prebuilt binary or compile for a minute;
  // the module our `npm ci` built (same version, same Node) is copied in instead.
  yield* succeeded(yield* run("npm", "ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"), "npm ci")
  const sqlite = path.join("node_modules", "better-sqlite3", "build", "Release")
  yield* fs.makeDirectory(path.join(dir, sqlite), { recursive: true })
  yield* fs.copyFile(path.join(root, sqlite, "better_sqlite3.node"), path.join(dir, sqlite, "better_sqlite3.node"))

  yield* fs.copy(path.join(root, "examples", "data"), path.join(dir, "examples", "data"))
  for (const example of examples) yield* fs.copyFile(path.join(root, example.path), path.join(dir, example.path))
  yield* fs.writeFileString(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        types: ["node"],
        strict: true,
        exactOptionalPropertyTypes: true,
        // effect's own .d.ts name DOM types: Effect's templates skip library checks too
        skipLibCheck: true,
        noEmit: true
      },
      include: ["examples", "*.ts"]
    }, null, 2)
  )
  return { dir, manifest, packedFiles: packed!.files.map((file) => file.path), run }
})

export const layer = Layer.scoped(PackedApp, make).pipe(Layer.provide(NodeContext.layer))
