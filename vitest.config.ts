import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    // examples import the package by name, as a user would
    alias: [
      { find: /^trading-bus$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      { find: /^trading-bus\/promise$/, replacement: fileURLToPath(new URL("./src/promise/index.ts", import.meta.url)) }
    ]
  },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
