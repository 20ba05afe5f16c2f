import { Chunk, Queue } from "effect"

// Effect's variance marker: a type-level brand with no behaviour, the same object Effect's own backing queues carry.
const variance = { _A: (a: unknown) => a }

/**
 * The backing store of the bus's Effect Queues: a ring buffer that grows up
 * to the queue's capacity. Effect's default (a linked list) allocates a node
 * per event and builds a batch by prepending and reversing; this allocates
 * nothing per event and hands a batch over as one array.
 */
export class RingBuffer<A> implements Queue.BackingQueue<A> {
  readonly [Queue.BackingQueueTypeId] = variance as Queue.Queue.BackingQueueVariance<A>[Queue.BackingQueueTypeId]
  private items: Array<A | undefined>
  private head = 0
  private size = 0

  constructor(private readonly limit: number) {
    this.items = new Array(Math.min(limit, 64))
  }

  poll<Def>(def: Def): A | Def {
    if (this.size === 0) return def
    const item = this.items[this.head] as A
    this.items[this.head] = undefined
    this.head = this.head + 1 === this.items.length ? 0 : this.head + 1
    this.size--
    return item
  }

  pollUpTo(limit: number): Chunk.Chunk<A> {
    const n = Math.min(limit, this.size)
    if (n === 0) return Chunk.empty()
    const out = new Array<A>(n)
    for (let i = 0; i < n; i++) out[i] = this.poll(undefined as A)
    return Chunk.unsafeFromArray(out)
  }

  offer(item: A): boolean {
    if (this.size === this.limit) return false
    if (this.size === this.items.length) this.grow()
    const at = this.head + this.size
    this.items[at < this.items.length ? at : at - this.items.length] = item
    this.size++
    return true
  }

  offerAll(items: Iterable<A>): Chunk.Chunk<A> {
    const surplus: Array<A> = []
    for (const item of items) if (surplus.length > 0 || !this.offer(item)) surplus.push(item)
    return Chunk.unsafeFromArray(surplus)
  }

  capacity(): number {
    return this.limit
  }

  length(): number {
    return this.size
  }

  private grow(): void {
    const next = new Array<A | undefined>(Math.min(this.limit, this.items.length * 2))
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.head + i) % this.items.length]
    this.items = next
    this.head = 0
  }
}
