/**
 * `npm run bench`: tally against DuckDB on generated song-plays data, verified before reported.
 *
 *   npm run bench -- [--sets M,L,H] [--threads 2] [--memory MB] [--runs 1]
 *
 * For each set: generate the data once (cached, see data-sets.ts), read it once so that both
 * engines find it in the page cache, then per run time tally and DuckDB, each in a child
 * process of its own (peak RSS is per process), and check that both outputs hold the same
 * totals. Any difference is printed and the bench exits non-zero without a table. The table
 * goes to stdout and to bench/results/latest.md.
 */
import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { compareTotals } from './csv-totals.js'
import { DATA_SETS, type DataSet, prepareDataSet } from './data-sets.js'

interface RunReport {
  seconds: number
  maxRssMiB: number
  baselineRssMiB: number
  summary: Record<string, unknown>
}

interface SetResult {
  set: DataSet
  bytes: number
  groups: number
  tally: { seconds: number; maxRssMiB: number }
  duckdb: { seconds: number; maxRssMiB: number }
  duckdbVersion: string
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const log = (line: string) => process.stderr.write(`${line}\n`)

function parseOptions() {
  const { values } = parseArgs({
    options: {
      sets: { type: 'string', default: 'M,L,H' },
      threads: { type: 'string', default: '2' },
      memory: { type: 'string' },
      runs: { type: 'string', default: '1' },
    },
  })
  const positive = (name: string, text: string) => {
    const n = Number(text)
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`)
    return n
  }
  const sets = values.sets.split(',').map((name) => {
    const set = DATA_SETS.find((s) => s.name === name.trim().toUpperCase())
    if (!set) {
      throw new Error(`unknown set "${name}"; known: ${DATA_SETS.map((s) => s.name).join(', ')}`)
    }
    return set
  })
  return {
    sets,
    threads: positive('threads', values.threads),
    memoryMb: values.memory === undefined ? undefined : positive('memory', values.memory),
    runs: positive('runs', values.runs),
  }
}

async function runChild(script: string, args: string[]): Promise<RunReport> {
  const path = fileURLToPath(new URL(script, import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  if (code !== 0) throw new Error(`${script} ${args.join(' ')} exited with code ${code}`)
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as RunReport
}

async function readThrough(path: string): Promise<void> {
  for await (const _ of createReadStream(path, { highWaterMark: 1 << 22 })) {
    // Reading is the point: the file lands in the page cache before either engine is timed.
  }
}

async function benchSet(
  set: DataSet,
  options: ReturnType<typeof parseOptions>,
  workDir: string,
): Promise<SetResult> {
  log(`${set.name}: ${set.rows} rows, ${set.songs} songs, ${set.days} days`)
  const data = await prepareDataSet(set)
  const sizeMB = (data.bytes / 1e6).toFixed(1)
  if (data.generated) {
    log(
      `${set.name}: generated ${sizeMB} MB in ${data.generated.seconds.toFixed(1)} s: ${data.path}`,
    )
  } else {
    log(`${set.name}: cached ${sizeMB} MB: ${data.path}`)
  }
  await readThrough(data.path)
  const tallyOut = join(workDir, `${set.name}-tally.csv`)
  const duckdbOut = join(workDir, `${set.name}-duckdb.csv`)
  const tallyArgs = ['--input', data.path, '--output', tallyOut, '--threads', `${options.threads}`]
  if (options.memoryMb !== undefined) tallyArgs.push('--memory', `${options.memoryMb}`)
  const duckdbArgs = [
    '--input',
    data.path,
    '--output',
    duckdbOut,
    '--threads',
    `${options.threads}`,
  ]
  duckdbArgs.push('--temp-dir', join(workDir, 'duckdb-tmp'))
  const tallyRuns: RunReport[] = []
  const duckdbRuns: RunReport[] = []
  let groups = 0
  for (let run = 1; run <= options.runs; run++) {
    // Alternating engines spreads any drift of a shared machine over both.
    const tally = await runChild('./run-tally.ts', tallyArgs)
    log(`${set.name} run ${run}: tally ${tally.seconds.toFixed(2)} s, ${rss(tally)}`)
    const duckdb = await runChild('./run-duckdb.ts', duckdbArgs)
    log(`${set.name} run ${run}: duckdb ${duckdb.seconds.toFixed(2)} s, ${rss(duckdb)}`)
    groups = await verify(set, tally, duckdb, tallyOut, duckdbOut)
    tallyRuns.push(tally)
    duckdbRuns.push(duckdb)
  }
  return {
    set,
    bytes: data.bytes,
    groups,
    tally: best(tallyRuns),
    duckdb: best(duckdbRuns),
    duckdbVersion: String(duckdbRuns[0].summary.version),
  }
}

function rss(report: RunReport): string {
  return `peak RSS ${report.maxRssMiB.toFixed(0)} MiB (at start ${report.baselineRssMiB.toFixed(0)})`
}

/** The fastest time and the highest peak: the least disturbed speed, the most memory seen. */
function best(runs: RunReport[]): { seconds: number; maxRssMiB: number } {
  return {
    seconds: Math.min(...runs.map((r) => r.seconds)),
    maxRssMiB: Math.max(...runs.map((r) => r.maxRssMiB)),
  }
}

class VerificationError extends Error {}

/** Both engines must report every row and the same totals; returns the number of groups. */
async function verify(
  set: DataSet,
  tally: RunReport,
  duckdb: RunReport,
  tallyOut: string,
  duckdbOut: string,
): Promise<number> {
  const problems: string[] = []
  const summary = tally.summary as { rowsRead: number; rowsRejected: number; groups: number }
  if (summary.rowsRead !== set.rows) problems.push(`tally read ${summary.rowsRead} rows`)
  if (summary.rowsRejected !== 0) problems.push(`tally rejected ${summary.rowsRejected} rows`)
  const comparison = await compareTotals(duckdbOut, tallyOut)
  if (summary.groups !== comparison.groups || duckdb.summary.groups !== comparison.groups) {
    problems.push(
      `groups: tally says ${summary.groups}, DuckDB says ${duckdb.summary.groups}, ` +
        `DuckDB's file has ${comparison.groups}`,
    )
  }
  if (comparison.differenceCount > 0) {
    problems.push(`${comparison.differenceCount} totals differ (tally vs DuckDB):`)
    problems.push(...comparison.differences.map((d) => `  ${d}`))
  }
  if (problems.length > 0) {
    throw new VerificationError(
      `${set.name}: tally and DuckDB disagree\n${problems.join('\n')}\n` +
        `outputs kept: ${tallyOut}, ${duckdbOut}`,
    )
  }
  log(`${set.name}: verified, ${comparison.groups} groups with identical totals`)
  return comparison.groups
}

function table(results: SetResult[], options: ReturnType<typeof parseOptions>): string {
  const head = [
    'set',
    'size MB',
    'rows',
    'groups',
    'tally s',
    'tally MB/s',
    'tally peak RSS MiB',
    'duckdb s',
    'duckdb MB/s',
    'duckdb peak RSS MiB',
    'throughput ratio (tally/duckdb)',
    'RSS ratio (tally/duckdb)',
  ]
  const rows = results.map(({ set, bytes, groups, tally, duckdb }) => {
    const mb = bytes / 1e6
    return [
      set.name,
      mb.toFixed(1),
      set.rows.toLocaleString('en-US'),
      groups.toLocaleString('en-US'),
      tally.seconds.toFixed(2),
      (mb / tally.seconds).toFixed(1),
      tally.maxRssMiB.toFixed(0),
      duckdb.seconds.toFixed(2),
      (mb / duckdb.seconds).toFixed(1),
      duckdb.maxRssMiB.toFixed(0),
      (duckdb.seconds / tally.seconds).toFixed(2),
      (tally.maxRssMiB / duckdb.maxRssMiB).toFixed(2),
    ]
  })
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  const align = head.map((_, i) => (i === 0 ? '---' : '---:'))
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const memory = options.memoryMb === undefined ? 'default' : `${options.memoryMb} MiB`
  return [
    '# tally benchmark',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Node ${process.version}, ${cpu}, ${availableParallelism()} cores`,
    `- DuckDB ${results[0]?.duckdbVersion ?? '?'} (@duckdb/node-api) as the reference engine`,
    `- Threads: ${options.threads} for both engines; tally memory budget: ${memory}`,
    `- Runs per engine: ${options.runs} (best time, highest peak RSS); every run verified`,
    '- MB = 10^6 bytes of CSV; peak RSS is the child process maximum, Node itself included',
    '',
    line(head),
    line(align),
    ...rows.map(line),
    '',
  ].join('\n')
}

const options = parseOptions()
const workDir = await mkdtemp(join(tmpdir(), 'tally-bench-'))
const results: SetResult[] = []
try {
  for (const set of options.sets) results.push(await benchSet(set, options, workDir))
} catch (error) {
  if (!(error instanceof VerificationError)) await rm(workDir, { recursive: true, force: true })
  log(error instanceof Error ? error.message : String(error))
  process.exit(1)
}
await rm(workDir, { recursive: true, force: true })
const markdown = table(results, options)
process.stdout.write(`\n${markdown}`)
const resultsPath = fileURLToPath(new URL('./results/latest.md', import.meta.url))
await writeFile(resultsPath, markdown)
log(`written to ${resultsPath}`)
