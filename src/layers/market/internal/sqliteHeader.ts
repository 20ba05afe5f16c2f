/** The first 16 bytes of every SQLite 3 database file. */
const sqliteHeader = "SQLite format 3\0"

/**
 * A file starting with SQLite's header: a journal, whatever its name. Apart from `JournalCandles` so that telling
 * a journal from a CSV does not load SQLite (some 300 ms of modules, in every thread of a sweep).
 */
export const isSqliteHeader = (bytes: Uint8Array): boolean =>
  bytes.length >= sqliteHeader.length &&
  Array.from(sqliteHeader).every((c, i) => bytes[i] === c.charCodeAt(0))
