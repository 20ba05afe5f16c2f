import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startCli } from "../support/cli.js"
import { redisSkipReason, type RedisServer, startRedis } from "../support/redis.js"

const skip = redisSkipReason()
let redis: RedisServer | undefined

const cli = (...args: Array<string>) => (redis === undefined ? "" : execFileSync("redis-cli", ["-p", String(redis.port), ...args], { encoding: "utf8" }).trim())

/** Each line of a record-candles file as [symbol, openTime]. */
const records = (file: string): Array<[string, number]> =>
  existsSync(file)
    ? readFileSync(file, "utf8").trim().split("\n").filter((l) => l !== "").map((l) => {
      const [symbol, time] = l.split(" ")
      return [symbol!, Number(time)]
    })
    : []

const bySymbol = (rows: Array<[string, number]>) => {
  const out = new Map<string, Array<number>>()
  for (const [symbol, time] of rows) out.set(symbol, [...(out.get(symbol) ?? []), time])
  return out
}

describe.skipIf(skip !== undefined)(`one collector and two engines over Redis${skip === undefined ? "" : ` (skipped: ${skip})`}`, () => {
  beforeAll(async () => {
    redis = await startRedis()
  }, 30_000)
  afterAll(async () => {
    await redis?.stop()
  })

  it("an engine killed mid-flow: the other owns its partitions within leaseTimeout + 5 s; no candle twice or out of order, each order one outcome", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trading-bus-roles-"))
    const bus = ["--bus", redis!.url, "--partitions", "4", "--log-level", "none"]
    const symbols = "btcusdt,ethusdt,bnbusdt,solusdt,xrpusdt,adausdt"
    const engine = (name: string) =>
      startCli(["run", ...bus, "--role", "engine", "--strategy", "test/fixtures/strategy/record-candles.ts", "--param", `out=${join(dir, `${name}.txt`)}`, "--duration", "40s", "--summary-json", join(dir, `${name}.json`), "--status-interval", "1h"])
    const a = engine("a")
    const b = engine("b")
    await Promise.all([a.waitFor("trading-bus:", 40_000), b.waitFor("trading-bus:", 40_000)])
    const collector = startCli(["run", ...bus, "--role", "collector", "--symbols", symbols, "--speed", "8", "--seed", "9", "--duration", "16s", "--status-interval", "1h"])

    const leases = () => [0, 1, 2, 3].map((p) => cli("GET", `trading-bus:lease:${p}`))
    const deadline = (ms: number) => Date.now() + ms
    // both engines hold leases: the partitions are shared
    const both = new Set([`engine-${a.child.pid}`, `engine-${b.child.pid}`])
    const shared = () => {
      const owners = leases()
      return owners.every((o) => both.has(o)) && new Set(owners).size === 2
    }
    for (const until = deadline(20_000); !shared() && Date.now() < until;) await new Promise((r) => setTimeout(r, 200))
    expect(new Set(leases())).toEqual(both)
    // let A trade a while, then kill it without a chance to release anything
    for (const until = deadline(20_000); records(join(dir, "a.txt")).length < 8 && Date.now() < until;) await new Promise((r) => setTimeout(r, 200))
    a.child.kill("SIGKILL")
    const killedAt = Date.now()
    for (const until = deadline(15_000); leases().some((l) => l !== `engine-${b.child.pid}`) && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(leases()).toEqual(Array(4).fill(`engine-${b.child.pid}`))
    expect(Date.now() - killedAt).toBeLessThan(5_000 + 5_000)

    const collected = await collector.finished
    expect(collected.code).toBe(0)
    // B drains what the collector published, then its run ends
    await new Promise((r) => setTimeout(r, 3_000))
    b.child.kill("SIGINT")
    const bDone = await b.finished
    expect(bDone.code).toBe(0)

    // per symbol: A's candles then B's, strictly increasing (in order, none twice)
    const fromA = bySymbol(records(join(dir, "a.txt")))
    const fromB = bySymbol(records(join(dir, "b.txt")))
    expect(fromA.size + fromB.size).toBeGreaterThanOrEqual(6)
    for (const symbol of new Set([...fromA.keys(), ...fromB.keys()])) {
      const times = [...(fromA.get(symbol) ?? []), ...(fromB.get(symbol) ?? [])]
      for (let i = 1; i < times.length; i++) expect(times[i], `${symbol} #${i}`).toBeGreaterThan(times[i - 1]!)
    }
    // every order executed at most once, each with its outcome (one claim at most is left by the killed engine)
    const executed = cli("--scan", "--pattern", "trading-bus:executed:*").split("\n").filter((k) => k !== "")
    expect(executed.length).toBeGreaterThan(0)
    const outcomes = executed.map((key) => cli("GET", key))
    const unfinished = outcomes.filter((o) => o.startsWith("executing by"))
    expect(unfinished.length).toBeLessThanOrEqual(1)
    expect(unfinished.every((o) => o === `executing by engine-${a.child.pid}`)).toBe(true)
    expect(outcomes.filter((o) => o.startsWith("{")).length).toBe(executed.length - unfinished.length)
    // nothing left unacknowledged in the order streams
    for (let p = 0; p < 4; p++) expect(cli("XLEN", `trading-bus:order:${p}`)).toBe("0")
    const summary = JSON.parse(readFileSync(join(dir, "b.json"), "utf8"))
    expect(summary.fills).toBeGreaterThan(0)
  }, 120_000)
})
