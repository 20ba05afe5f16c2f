/**
 * Headless Chromium for render tests: find it, screenshot a local HTML file, and tell a blank PNG from a drawn one.
 *
 * Policy: a machine without Chromium skips the render tests with a visible reason (`npm ci && npm test` passes on a
 * fresh clone), unless `TRADING_BUS_REQUIRE_CHROMIUM=1` (CI sets it), in which case they run and fail.
 */
import { spawn } from "node:child_process"
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { PNG } from "pngjs"

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}

const onPath = (name: string): string | undefined =>
  (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir !== "")
    .map((dir) => join(dir, name))
    .find(executable)

/** `CHROMIUM_PATH`, else `/usr/bin/chromium`, else `chromium` or `chromium-browser` on the PATH. */
export const findChromium = (): string | undefined => {
  const configured = process.env.CHROMIUM_PATH
  if (configured !== undefined && configured !== "") return executable(configured) ? configured : undefined
  if (executable("/usr/bin/chromium")) return "/usr/bin/chromium"
  return onPath("chromium") ?? onPath("chromium-browser")
}

export const chromiumAvailable = (): boolean => findChromium() !== undefined

/** Whether Chromium-less machines must fail the render tests instead of skipping them. */
export const chromiumRequired = (): boolean => process.env.TRADING_BUS_REQUIRE_CHROMIUM === "1"

/**
 * Why a render test should be skipped, or `undefined` to run it: Chromium is there, or it is required (then the
 * test runs and `screenshot` fails saying Chromium is missing). Use as `ctx.skip(reason !== undefined, reason)`.
 */
export const chromiumSkipReason = (): string | undefined =>
  chromiumAvailable() || chromiumRequired()
    ? undefined
    : `Chromium not found (CHROMIUM_PATH, /usr/bin/chromium, chromium or chromium-browser on PATH); ` +
      `install Debian's chromium package or set TRADING_BUS_REQUIRE_CHROMIUM=1 to fail instead`

export interface ScreenshotOptions {
  readonly width: number
  readonly height: number
  /** Kill Chromium (and its children) after this long; 30 s by default. */
  readonly timeoutMs?: number
}

/** The flags of one offline headless run; without the networking ones Chromium hangs on refused connections. */
const flags = (userDataDir: string, png: string, html: string, o: ScreenshotOptions): Array<string> => [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
  `--user-data-dir=${userDataDir}`,
  `--window-size=${o.width},${o.height}`,
  `--screenshot=${png}`,
  pathToFileURL(html).href
]

/** Renders `htmlFile` in headless Chromium at `width`x`height` and writes the viewport to `pngFile`. */
export const screenshot = async (htmlFile: string, pngFile: string, options: ScreenshotOptions): Promise<void> => {
  const chromium = findChromium()
  if (chromium === undefined) {
    throw new Error(
      "Chromium was not found (CHROMIUM_PATH, /usr/bin/chromium, chromium or chromium-browser on PATH): install Debian's chromium package or set CHROMIUM_PATH"
    )
  }
  const png = resolve(pngFile)
  rmSync(png, { force: true })
  const userDataDir = mkdtempSync(join(tmpdir(), "trading-bus-chromium-"))
  const timeoutMs = options.timeoutMs ?? 30_000
  try {
    const { code, signal, stderr, timedOut } = await new Promise<{
      code: number | null
      signal: NodeJS.Signals | null
      stderr: string
      timedOut: boolean
    }>((done, fail) => {
      // its own process group, so that a timeout kills the launcher script, the browser and its helpers at once
      const child = spawn(chromium, flags(userDataDir, png, resolve(htmlFile), options), {
        detached: true,
        stdio: ["ignore", "ignore", "pipe"]
      })
      let stderr = ""
      let timedOut = false
      child.stderr!.on("data", (d) => {
        stderr = (stderr + d).slice(-20_000)
      })
      const timer = setTimeout(() => {
        timedOut = true
        try {
          process.kill(-child.pid!, "SIGKILL")
        } catch {
          child.kill("SIGKILL")
        }
      }, timeoutMs)
      child.on("error", (e) => {
        clearTimeout(timer)
        fail(e)
      })
      child.on("exit", (code, signal) => {
        clearTimeout(timer)
        done({ code, signal, stderr, timedOut })
      })
    })
    const written = (() => {
      try {
        return statSync(png).size > 0
      } catch {
        return false
      }
    })()
    if (timedOut || code !== 0 || !written) {
      const why = timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${code ?? signal}`
      const log = stderr.split("\n").filter((l) => !/dbus|Fontconfig/i.test(l)).slice(-15).join("\n")
      throw new Error(`${chromium} ${why}${written ? "" : `, no screenshot at ${png}`}\n${log}`)
    }
  } finally {
    rmSync(userDataDir, { recursive: true, force: true })
  }
}

export interface PngAnalysis {
  readonly width: number
  readonly height: number
  /** How many different RGBA values the image holds. */
  readonly distinctColours: number
  /** The most common colour, as `#rrggbb` (the page's background, normally). */
  readonly background: string
  /** The share of pixels that are not the background colour, 0 to 1. */
  readonly nonBackgroundFraction: number
  /** For each colour asked for in `probe`, how many pixels are within `tolerance` of it on every channel. */
  readonly probed: Readonly<Record<string, number>>
}

const hex = (rgba: number): string => `#${(rgba >>> 8).toString(16).padStart(6, "0")}`

/** Decodes `pngFile` and measures how much is drawn on it. `probe`: `#rrggbb` colours to count. */
export const analyse = (
  pngFile: string,
  probe: ReadonlyArray<string> = [],
  tolerance = 24
): PngAnalysis => {
  const png = PNG.sync.read(readFileSync(pngFile))
  const data = png.data
  const counts = new Map<number, number>()
  const targets = probe.map((c) => [c, parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)] as const)
  const probed: Record<string, number> = Object.fromEntries(probe.map((c) => [c, 0]))
  for (let i = 0; i < data.length; i += 4) {
    const r = data[i]!
    const g = data[i + 1]!
    const b = data[i + 2]!
    const key = ((r << 24) | (g << 16) | (b << 8) | data[i + 3]!) >>> 0
    counts.set(key, (counts.get(key) ?? 0) + 1)
    for (const [name, tr, tg, tb] of targets) {
      if (Math.abs(r - tr) <= tolerance && Math.abs(g - tg) <= tolerance && Math.abs(b - tb) <= tolerance) {
        probed[name] = probed[name]! + 1
      }
    }
  }
  let background = 0
  let most = 0
  for (const [key, n] of counts) {
    if (n > most) {
      most = n
      background = key
    }
  }
  const total = png.width * png.height
  return {
    width: png.width,
    height: png.height,
    distinctColours: counts.size,
    background: hex(background),
    nonBackgroundFraction: total === 0 ? 0 : 1 - most / total,
    probed
  }
}

/** "Not blank": more than 1% of the pixels differ from the background, in more than 16 distinct colours. */
export const NOT_BLANK = { minNonBackgroundFraction: 0.01, minDistinctColours: 16 } as const

export const looksBlank = (a: PngAnalysis): boolean =>
  a.nonBackgroundFraction <= NOT_BLANK.minNonBackgroundFraction || a.distinctColours <= NOT_BLANK.minDistinctColours

/** A report file as a person sees it: screenshotted beside itself (`.png`) at the reports' width, then analysed. */
export const screenshotReport = async (htmlFile: string, height = 1600): Promise<PngAnalysis> => {
  const png = htmlFile.replace(/\.html$/, "") + ".png"
  await screenshot(htmlFile, png, { width: 1100, height, timeoutMs: 30_000 })
  return analyse(png)
}
