/** The command line's duration syntax, shared with the environment's (`TRADING_BUS_*_TIMEOUT`). */
export { parseDuration } from "../domain/DurationText.js"
