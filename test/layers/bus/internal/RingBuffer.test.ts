import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Queue } from "effect"
import { RingBuffer } from "../../../../src/layers/bus/internal/RingBuffer.js"

const none = Symbol("none")

describe("RingBuffer", () => {
  it("keeps FIFO order across wrap-arounds and growth, up to its capacity", () => {
    const ring = new RingBuffer<number>(200)
    const out: Array<number> = []
    let next = 0
    // interleave offers and polls so the head wraps while the buffer grows from 64 towards 200
    for (let round = 0; round < 45; round++) {
      for (let i = 0; i < 7; i++) expect(ring.offer(next++)).toBe(true)
      for (let i = 0; i < 3; i++) out.push(ring.poll(none) as number)
    }
    while (ring.length() > 0) out.push(ring.poll(none) as number)
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i))
    expect(ring.poll(none)).toBe(none)
  })

  it("refuses an offer past capacity and returns the surplus of offerAll", () => {
    const ring = new RingBuffer<number>(3)
    expect(Chunk.toReadonlyArray(ring.offerAll([1, 2, 3, 4, 5]))).toEqual([4, 5])
    expect(ring.offer(6)).toBe(false)
    expect([ring.length(), ring.capacity()]).toEqual([3, 3])
    expect(Chunk.toReadonlyArray(ring.pollUpTo(2))).toEqual([1, 2])
    expect(Chunk.toReadonlyArray(ring.pollUpTo(5))).toEqual([3])
  })

  it.effect("backs an Effect Queue with back-pressure and sliding strategies", () =>
    Effect.gen(function*() {
      const bounded = yield* Queue.make(new RingBuffer<number>(2), Queue.backPressureStrategy<number>())
      yield* Queue.offerAll(bounded, [1, 2])
      const blocked = yield* Effect.fork(Queue.offer(bounded, 3))
      yield* Effect.yieldNow()
      expect(blocked.unsafePoll()).toBeNull()
      expect(yield* Queue.take(bounded)).toBe(1)
      yield* Fiber.join(blocked)
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(bounded))).toEqual([2, 3])

      const sliding = yield* Queue.make(new RingBuffer<number>(2), Queue.slidingStrategy<number>())
      yield* Queue.offerAll(sliding, [1, 2, 3, 4])
      expect(Chunk.toReadonlyArray(yield* Queue.takeAll(sliding))).toEqual([3, 4])
    }))
})
