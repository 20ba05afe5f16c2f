import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as PackedApp from "./PackedApp.js"

const manifest = JSON.parse(readFileSync(join(PackedApp.root, "package.json"), "utf8"))
const bin = (name: string) => join(PackedApp.root, "node_modules", ".bin", name)

describe("the README's install line", () => {
  it("names every peer dependency with package.json's range, so npm cannot pick effect 4's packages", () => {
    const readme = readFileSync(join(PackedApp.root, "README.md"), "utf8")
    const line = readme.match(/npm install trading-bus ([^`\n]+)/)
    expect(line).not.toBeNull()
    const specs = line![1]!.trim().split(/\s+/)
    const peers = Object.entries(manifest.peerDependencies).map(([name, range]) => `${name}@${range}`)
    expect([...specs].sort()).toEqual([...peers].sort())
  })
})

// Packs the project, installs the tarball offline and runs it: a minute or so, mostly tsc.
layer(PackedApp.layer, { timeout: "5 minutes", excludeTestServices: true })("the packed package", (it) => {
  it.effect("holds dist/ (ESM, .d.ts, the bin), the sources its maps point to, and no tests", () =>
    Effect.gen(function*() {
      const { packedFiles } = yield* PackedApp.PackedApp
      expect(packedFiles).toEqual(expect.arrayContaining([
        "README.md",
        "package.json",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/programs/main.js",
        "src/index.ts"
      ]))
      expect(packedFiles.filter((file) => /^(test|bench|examples|node_modules)\//.test(file))).toEqual([])
    }))

  it.effect("declares every package dist/ imports as a dependency or a peer dependency", () =>
    Effect.gen(function*() {
      const { dir, manifest } = yield* PackedApp.PackedApp
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dist = path.join(dir, "node_modules", manifest.name, "dist")
      const imported = new Set<string>()
      for (const file of yield* fs.readDirectory(dist, { recursive: true })) {
        if (!file.endsWith(".js")) continue
        for (const name of PackedApp.importedPackages(yield* fs.readFileString(path.join(dist, file)))) imported.add(name)
      }
      const declared = new Set([...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies)])
      expect([...imported].filter((name) => !declared.has(name))).toEqual([])
      expect(imported).toContain("ws")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("type-checks the examples against the installed package's types", () =>
    Effect.gen(function*() {
      const app = yield* PackedApp.PackedApp
      const fs = yield* FileSystem.FileSystem
      // Were the package's types missing or `any`, this expected error would not occur and tsc would fail.
      yield* fs.writeFileString(
        `${app.dir}/types-are-real.ts`,
        `import { MemoryEventBus } from "trading-bus"\n// @ts-expect-error: a Layer is not a number\nexport const n: number = MemoryEventBus.layer\n`
      )
      const tsc = yield* app.run(process.execPath, bin("tsc"), "-p", "tsconfig.json")
      expect(tsc.stdout + tsc.stderr).toBe("")
      expect(tsc.code).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer)), 120_000)

  for (const example of PackedApp.examples) {
    it.effect(`runs ${example.path} with tsx against the installed package`, () =>
      Effect.gen(function*() {
        const app = yield* PackedApp.PackedApp
        const output = yield* app.run(bin("tsx"), example.path).pipe(
          Effect.flatMap((finished) => PackedApp.succeeded(finished, example.path))
        )
        for (const text of example.prints) expect(output).toContain(text)
      }), 60_000)
  }

  it.effect("runs the trading-bus bin from the installed package", () =>
    Effect.gen(function*() {
      const app = yield* PackedApp.PackedApp
      const help = yield* app.run("npx", "--no", "--", "trading-bus", "--help")
      expect(help.code).toBe(0)
      expect(help.stdout).toContain(`trading-bus ${manifest.version}`)
      // A short run: the simulator (ws), the collector, the engine and the SQLite journal (the native module).
      const trading = join(app.dir, "node_modules", ".bin", "trading-bus")
      const run = yield* app.run(
        trading,
        "run",
        "--duration",
        "1s",
        "--metrics-port",
        "0",
        "--status-interval",
        "1m",
        "--journal",
        "journal.db",
        "--summary-json",
        "summary.json"
      ).pipe(Effect.flatMap((finished) => PackedApp.succeeded(finished, "trading-bus run")))
      expect(run).toContain("run summary")
      const summary = JSON.parse(readFileSync(join(app.dir, "summary.json"), "utf8"))
      expect(summary.errors).toBe(0)
    }), 60_000)
})
