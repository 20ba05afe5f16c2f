import { describe, expect, it } from "@effect/vitest"
import { BigDecimal, Context, Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { afterAll, beforeAll } from "vitest"
import type { Fill, Order } from "../../../src/domain/Order.js"
import { BrokerError } from "../../../src/domain/TradingErrors.js"
import * as RedisOnceBroker from "../../../src/layers/execution/RedisOnceBroker.js"
import { Broker } from "../../../src/services/Broker.js"
import { redisSkipReason, type RedisServer, startRedis } from "../../support/redis.js"

const skip = redisSkipReason()
let redis: RedisServer | undefined

const order = (id: string, symbol = "BTCUSDT"): Order => ({
  clientOrderId: id, symbol, side: "BUY", type: "MARKET",
  quantity: BigDecimal.unsafeFromString("0.5"), price: BigDecimal.unsafeFromString("100.125"), status: "NEW", createdAt: 1, updatedAt: 1
})

/** A broker that counts its executions and refuses ETHUSDT. */
const counting = () => {
  const executed: Array<string> = []
  const layer = Layer.succeed(Broker, Broker.of({
    submit: (o) =>
      o.symbol === "ETHUSDT"
        ? Effect.fail(new BrokerError({ clientOrderId: o.clientOrderId, message: "no ETH today", rejected: true }))
        : Effect.sync((): Fill => {
          executed.push(o.clientOrderId)
          return {
            clientOrderId: o.clientOrderId, tradeId: `t-${o.clientOrderId}`, symbol: o.symbol, side: o.side, type: o.type,
            quantity: o.quantity, price: BigDecimal.unsafeFromString("100.12500001"), fee: BigDecimal.unsafeFromString("0.05"),
            status: "FILLED", orderCreatedAt: 1, filledAt: 2
          }
        })
  }))
  return { executed, layer }
}

describe.skipIf(skip !== undefined)(`RedisOnceBroker${skip === undefined ? "" : ` (skipped: ${skip})`}`, () => {
  beforeAll(async () => {
    redis = await startRedis()
  }, 30_000)
  afterAll(async () => {
    await redis?.stop()
  })

  const process = (namespace: string, name: string) => {
    const inner = counting()
    return {
      executed: inner.executed,
      broker: Effect.map(
        Layer.build(RedisOnceBroker.layer({ url: redis!.url, namespace, consumer: name }).pipe(Layer.provide(inner.layer))),
        (context) => Context.get(context, Broker)
      )
    }
  }

  it.scopedLive("executes an order delivered to two processes once; both get the same exact fill", () =>
    Effect.gen(function*() {
      const a = process("once-1", "a")
      const b = process("once-1", "b")
      const [brokerA, brokerB] = [yield* a.broker, yield* b.broker]
      const [fillA, fillB] = yield* Effect.all([brokerA.submit(order("o-1")), brokerB.submit(order("o-1"))], { concurrency: "unbounded" })
        .pipe(Effect.retry({ times: 3 }))
      expect(a.executed.length + b.executed.length).toBe(1)
      expect(BigDecimal.format(fillA.price)).toBe("100.12500001")
      expect(fillB).toEqual(fillA)
      // delivered again later (a failover's redelivery): the recorded fill, no execution
      expect(yield* brokerB.submit(order("o-1"))).toEqual(fillA)
      expect(a.executed.length + b.executed.length).toBe(1)
    }))

  it.scopedLive("returns a recorded rejection as a rejection, and never executes an order a dead process claimed", () =>
    Effect.gen(function*() {
      const a = process("once-2", "a")
      const brokerA = yield* a.broker
      const first = yield* Effect.flip(brokerA.submit(order("o-eth", "ETHUSDT")))
      const again = yield* Effect.flip(brokerA.submit(order("o-eth", "ETHUSDT")))
      expect([first.rejected, again.rejected, again.message]).toEqual([true, true, "no ETH today"])
      // a claim with no outcome: its process died executing it
      execFileSync("redis-cli", ["-p", String(redis!.port), "SET", "once-2:executed:o-dead", "executing by c"])
      const dead = yield* Effect.flip(brokerA.submit(order("o-dead")))
      expect(dead.rejected).toBe(false)
      expect(dead.message).toContain("executing by c")
      expect(a.executed).toEqual([])
    }))
})
