/** Where an event goes in Redis: its queue's stream of its symbol's partition. */
import type { BusEvent, QueueName } from "../../../../domain/BusEvent.js"

/** The symbol an event is about: candles, signals, orders, fills and positions have one; an Error has none. */
export const symbolOf = (event: BusEvent): string => {
  const payload = event.payload as { readonly symbol?: unknown }
  return typeof payload.symbol === "string" ? payload.symbol : ""
}

/**
 * FNV-1a over the symbol's UTF-16 code units, mod `partitions`: stable across processes, machines and restarts
 * (unlike a seeded hash), so that one symbol's events always share one stream and keep their order.
 */
export const partitionOf = (symbol: string, partitions: number): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < symbol.length; i++) {
    hash ^= symbol.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash % partitions
}

export const streamKey = (namespace: string, queue: QueueName, partition: number) => `${namespace}:${queue}:${partition}`
export const leaseKey = (namespace: string, partition: number) => `${namespace}:lease:${partition}`
export const executedKey = (namespace: string, clientOrderId: string) => `${namespace}:executed:${clientOrderId}`
