import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { vi } from "vitest"
import * as SqliteDeadLetters from "../../src/layers/journal/SqliteDeadLetters.js"
import * as SqliteJournal from "../../src/layers/journal/SqliteJournal.js"
import { type DeadLetterView, dlqCommand } from "../../src/programs/dlq.js"
import { DeadLetters } from "../../src/services/DeadLetters.js"
import { Journal } from "../../src/services/Journal.js"
import { created, filled } from "../support/journal.js"

const store = (filename: string) =>
  SqliteDeadLetters.layer.pipe(Layer.provideMerge(SqliteJournal.layerWithSql({ filename })), Layer.orDie)

const cli = Command.run(Command.make("trading-bus").pipe(Command.withSubcommands([dlqCommand])), {
  name: "trading-bus",
  version: "test"
})

/** Runs `trading-bus dlq ...` in-process; returns what it printed. */
const dlq = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const spy = vi.spyOn(console, "log").mockImplementation((...parts: Array<unknown>) => void lines.push(parts.join(" ")))
    yield* cli(["node", "trading-bus", "dlq", ...args]).pipe(Effect.provide(NodeContext.layer), Effect.ensuring(Effect.sync(() => spy.mockRestore())))
    return lines.join("\n")
  })

const orderEvent = created("x")
const fillEvent = filled("y")

/** A journal file with two dead letters (one order, one fill) and nothing pending. */
const writeFile = (filename: string) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const letters = yield* DeadLetters
    yield* journal.append(orderEvent, "order")
    yield* journal.markDone(orderEvent.id)
    yield* letters.add({ handler: "broker", queue: "order", attempts: 5, cause: "BrokerError: HTTP 503\n    at ...", event: orderEvent, failedAt: 1_000 })
    yield* letters.add({ handler: "portfolio", queue: "order", attempts: 5, cause: "Error: boom", event: fillEvent, failedAt: 2_000 })
  }).pipe(Effect.provide(store(filename)))

describe("trading-bus dlq", () => {
  it.live("list prints a table and JSON; retry puts the event back as pending; purge deletes the rest", () =>
    Effect.gen(function*() {
      const filename = join(mkdtempSync(join(tmpdir(), "trading-bus-dlq-")), "journal.db")
      yield* writeFile(filename)

      const table = yield* dlq("list", "--journal", filename)
      expect(table).toMatch(/^ID\s+HANDLER\s+QUEUE\s+ATTEMPTS\s+FAILED AT\s+EVENT\s+CAUSE$/m)
      expect(table).toMatch(new RegExp(`^1\\s+broker\\s+order\\s+5\\s+1970-01-01T00:00:01.000Z\\s+OrderCreated ${orderEvent.id}\\s+BrokerError: HTTP 503$`, "m"))
      expect(table).toContain("2 dead letters")
      const json = JSON.parse(yield* dlq("list", "--journal", filename, "--json")) as ReadonlyArray<DeadLetterView>
      expect(json.map((l) => [l.id, l.handler, l.eventType, l.attempts])).toEqual([[1, "broker", "OrderCreated", 5], [2, "portfolio", "OrderFilled", 5]])

      const retried = yield* dlq("retry", "--journal", filename, "1")
      expect(retried).toContain("dead letter #1 (OrderCreated")
      const after = yield* Effect.gen(function*() {
        return { pending: yield* (yield* Journal).pending, letters: yield* (yield* DeadLetters).list }
      }).pipe(Effect.provide(store(filename)))
      // pending under a new id, the same order; the dead letter is gone
      expect(after.pending.map((e) => [e.event.type, e.queue, (e.event.payload as { clientOrderId: string }).clientOrderId]))
        .toEqual([["OrderCreated", "order", "x"]])
      expect(after.pending[0]!.event.id).not.toBe(orderEvent.id)
      expect(after.letters.map((l) => l.id)).toEqual([2])

      const unknown = yield* Effect.flip(dlq("retry", "--journal", filename, "9"))
      expect(unknown).toMatchObject({ _tag: "ConfigurationError", flag: "<id>" })

      expect(yield* dlq("purge", "--journal", filename)).toContain("purged 1 dead letters")
      expect(yield* dlq("list", "--journal", filename)).toBe(`no dead letters in the journal ${filename}`)
    }), 30_000)
})
