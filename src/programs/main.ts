#!/usr/bin/env node
/**
 * The `trading-bus` command's entry: V8's flags first, then the program (`cli.ts`), imported only once they are
 * set, so that nothing it runs is compiled or allocated before.
 */
import { setFlagsFromString } from "node:v8"

// Without it, V8 may move the candles and events of a backtest's first young collections to the old generation
// for the rest of the run, and a backtest then runs some 20% slower and peaks some 100 MiB higher, from one run
// to the next on the same input (docs/PERFORMANCE.md, "Run to run"). A trading engine's objects die young: an
// event lives until its handlers return.
setFlagsFromString("--no-allocation-site-pretenuring")

await import("./cli.js")
