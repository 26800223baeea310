/**
 * `tally serve` as a real child process for the fault tests, embedded mode (SQLite job store,
 * files in TALLY_DATA_DIR, the built-in worker), killed and restarted at will.
 *
 * Startup time matters here (a test restarts the server 20+ times in 90 s), and `tsx` costs
 * several seconds per start on a loaded 2-core machine. `dist/` may be missing or stale (other
 * engineers edit `src/` meanwhile), so each test file transpiles the current `src/` once with
 * esbuild (the same transform tsx applies, file by file, no bundling) into a private directory
 * under `.tmp/` (inside the repository, so `node_modules` resolves) and runs
 * `node <that dir>/cli/main.js serve`: the real code of `bin/tally.js serve`, started in about
 * a second. Children are tied to the test process (see tied-process.ts): they die with it.
 */
import type { ChildProcess } from 'node:child_process'
import { type Dirent, readdirSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { build } from 'esbuild'
import { startTallyProcess, waitForOutput } from '../../support/tally-process.js'

export { freePort } from '../../support/free-port.js'

export const REPO_ROOT = resolve(import.meta.dirname, '../../..')

export interface ServeBuild {
  /** `<dir>/cli/main.js`: the `tally` command. */
  main: string
  remove(): Promise<void>
}

/** Transpiles `src/` (without the browser UI) to plain JavaScript in a private directory. */
export async function buildServe(): Promise<ServeBuild> {
  const src = join(REPO_ROOT, 'src')
  const outdir = join(
    REPO_ROOT,
    '.tmp',
    `faults-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
  )
  await mkdir(outdir, { recursive: true })
  await build({
    entryPoints: sourceFiles(src),
    outdir,
    outbase: src,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
  })
  return {
    main: join(outdir, 'cli', 'main.js'),
    remove: () => rm(outdir, { recursive: true, force: true }),
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'web' ? [] : sourceFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

export interface ServeProcess {
  child: ChildProcess
  url: string
  /** Everything it printed (stdout and stderr). */
  output(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>
}

export interface ServeOptions {
  dataDir: string
  port: number
  env?: Record<string, string>
  /** How long to wait for "tally is serving". Default 60 s. */
  startTimeoutMs?: number
}

/** Starts `tally serve` and resolves once it listens. */
export async function startServe(main: string, options: ServeOptions): Promise<ServeProcess> {
  const made = startTallyProcess('tally serve', [main, 'serve'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      TALLY_DATA_DIR: options.dataDir,
      TALLY_HOST: '127.0.0.1',
      TALLY_PORT: String(options.port),
      TALLY_THREADS: '1',
      TALLY_CONCURRENCY: '1',
      TALLY_LOG_LEVEL: 'info',
      ...options.env,
    },
  })
  const { child } = made
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  )
  const server: ServeProcess = {
    child,
    url: `http://127.0.0.1:${options.port}`,
    output: made.output,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
  try {
    await waitForOutput(made, 'tally is serving', options.startTimeoutMs ?? 60_000)
  } catch (error) {
    await server.kill()
    throw error
  }
  return server
}

/** Every file under `dir` (relative paths), for "no stray partial file" checks. */
export function filesUnder(dir: string): string[] {
  let entries: Dirent[]
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true })
  } catch {
    return []
  }
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort()
}

/** The job rows a stopped server left in its SQLite file: id, status and attempts. */
export function storedJobs(dataDir: string): { id: string; status: string; attempts: number }[] {
  const db = new BetterSqlite3(join(dataDir, 'jobs.sqlite'), { readonly: true })
  try {
    return db.prepare('SELECT id, status, attempts FROM jobs ORDER BY seq').all() as {
      id: string
      status: string
      attempts: number
    }[]
  } finally {
    db.close()
  }
}
