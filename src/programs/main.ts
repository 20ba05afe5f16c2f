#!/usr/bin/env node
import { Command, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { demo } from "./demo.js"

const demoCommand = Command.make(
  "demo",
  {
    events: Options.integer("events").pipe(
      Options.withDefault(3000),
      Options.withDescription("How many candles to publish in the burst (signals and orders follow from them)")
    )
  },
  ({ events }) => demo({ events })
).pipe(Command.withDescription("Publish a burst on all three queues, print the stats, and shut down cleanly"))

const cli = Command.make("trading-bus").pipe(
  Command.withDescription("The event-driven core of an automated crypto trading system"),
  Command.withSubcommands([demoCommand])
)

const run = Command.run(cli, { name: "trading-bus", version: "0.1.0" })

run(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
