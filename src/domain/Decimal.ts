import { BigDecimal, Schema } from "effect"

/**
 * An exact decimal, encoded as a string ("0.00012345"): what prices and
 * quantities bound for an exchange are made of. Never a binary float.
 */
export const Decimal = Schema.BigDecimal
export type Decimal = BigDecimal.BigDecimal

/** The decimal behind a market-data number, through its shortest round-trip string. */
export const decimalFromNumber = (n: number): BigDecimal.BigDecimal => BigDecimal.unsafeFromString(String(n))

/** A decimal as the plain string an exchange and a journal expect. */
export const formatDecimal = (d: BigDecimal.BigDecimal): string => BigDecimal.format(BigDecimal.normalize(d))
