/**
 * The bad-input corpus through the real command line, one child process per run:
 *
 *   node --import tsx src/cli/main.ts aggregate FILE --on-error P --rejects R -o O
 *
 * Exit 0 with the expected output and rejects files and one summary line on stderr, or exit 1
 * with exactly one line `tally: CODE: message` on stderr, no output or rejects file, and never a
 * stack trace. Nothing is left in the temporary directory (TMPDIR points at a fresh one, shared
 * by the runs).
 *
 * Every case runs with `--on-error skip`, every third case also with `--on-error fail`, to stay
 * within about a minute: the processes run 4 at a time, before the tests read their results.
 *
 * Also the command's other answers: exit 2 for bad usage, exit 3 with one line naming the
 * user's path for I/O problems.
 */
import { execFile } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROW_ERROR_CODES } from '../../src/engine/index.js'
import { CASES, type CorpusCase, cliOutcomes, type Outcome, type Policy } from './cases.js'
import { expectOutcome, inPool, type Observed, rejectsOfFile } from './support.js'

const CONCURRENCY = 4
const ROW_CODES = [...ROW_ERROR_CODES, 'CSV_NO_VALID_ROWS']
const PROCESS_TIMEOUT_MS = 90_000
const MAIN = join(import.meta.dirname, '../../src/cli/main.ts')

interface CliRun {
  c: CorpusCase
  policy: Policy
  expected: Outcome
}

interface CliResult {
  exitCode: number | null
  signal: string | null
  stdout: string
  stderr: string
  output: string | undefined
  rejects: string | undefined
  /** Files left next to the input, the output and the rejects file. */
  strayFiles: string[]
}

const RUNS: CliRun[] = CASES.flatMap((c, i) => {
  const outcomes = cliOutcomes(c)
  const runs: CliRun[] = [{ c, policy: 'skip', expected: outcomes.skip }]
  if (i % 3 === 0) runs.push({ c, policy: 'fail', expected: outcomes.fail })
  return runs
})

let root: string
const results = new Map<CliRun, CliResult>()

/**
 * The TMPDIR of every run: shared, so that tsx's transform cache (kept there) is built once;
 * after the runs it must hold nothing else.
 */
let temp: string

function runCli(run: CliRun, index: number): Promise<CliResult> {
  const dir = join(root, `run-${index}`)
  mkdirSync(dir, { recursive: true })
  const input = join(dir, run.c.fileName ?? 'input.csv')
  const output = join(dir, 'out.csv')
  const rejects = join(dir, 'rejects.csv')
  writeFileSync(input, run.c.bytes())
  const args = ['--import', 'tsx', MAIN, 'aggregate', input, '--on-error', run.policy]
  args.push('--rejects', rejects, '-o', output, '--threads', '2')
  if (run.c.order) args.push('--order', run.c.order)
  return spawnCli(args).then((r) => {
    const known = new Set([run.c.fileName ?? 'input.csv', 'out.csv', 'rejects.csv'])
    const result: CliResult = {
      ...r,
      output: existsSync(output) ? readFileSync(output, 'utf8') : undefined,
      rejects: existsSync(rejects) ? readFileSync(rejects, 'utf8') : undefined,
      strayFiles: readdirSync(dir).filter((name) => !known.has(name)),
    }
    // The inputs of the large cases are tens of megabytes: drop each run's files at once.
    rmSync(input, { force: true })
    return result
  })
}

interface Spawned {
  exitCode: number | null
  signal: string | null
  stdout: string
  stderr: string
}

function spawnCli(args: string[]): Promise<Spawned> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      {
        cwd: join(import.meta.dirname, '../..'),
        env: { ...process.env, TMPDIR: temp, NO_COLOR: '1' },
        timeout: PROCESS_TIMEOUT_MS,
        maxBuffer: 1024 * 1024,
      },
      (error, stdout, stderr) => {
        resolve({
          exitCode: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          signal: error?.signal ?? null,
          stdout,
          stderr,
        })
      },
    )
  })
}

/** A command line that is not a corpus input: bad usage, or a path that cannot be used. */
interface OtherRun {
  name: string
  /** The arguments after `aggregate`, given a directory holding `good.csv`. */
  args: (dir: string) => string[]
  exitCode: 2 | 3
  /** For I/O errors: the path the one-line message must name. */
  names?: (dir: string) => string
}

const OTHER_RUNS: OtherRun[] = [
  { name: 'usage: --threads 0', args: (d) => [join(d, 'good.csv'), '--threads', '0'], exitCode: 2 },
  { name: 'usage: an unknown option', args: (d) => [join(d, 'good.csv'), '--bogus'], exitCode: 2 },
  { name: 'usage: no input argument', args: () => [], exitCode: 2 },
  {
    name: 'usage: --on-error maybe',
    args: (d) => [join(d, 'good.csv'), '--on-error', 'maybe'],
    exitCode: 2,
  },
  {
    name: 'I/O: the input does not exist',
    args: (d) => [join(d, 'missing.csv'), '-o', join(d, 'out.csv')],
    exitCode: 3,
    names: (d) => join(d, 'missing.csv'),
  },
  {
    name: 'I/O: the input is a directory',
    args: (d) => [d, '-o', join(d, 'out.csv')],
    exitCode: 3,
    names: (d) => d,
  },
  {
    name: 'I/O: the output directory does not exist',
    args: (d) => [join(d, 'good.csv'), '-o', join(d, 'no-such-dir', 'out.csv')],
    exitCode: 3,
    names: (d) => join(d, 'no-such-dir', 'out.csv'),
  },
]

const otherResults = new Map<OtherRun, Spawned & { dir: string }>()

function runOther(run: OtherRun, index: number): Promise<Spawned & { dir: string }> {
  const dir = join(root, `other-${index}`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'good.csv'), 'Song,Date,Number of Plays\nA,2020-01-01,1\n')
  return spawnCli(['--import', 'tsx', MAIN, 'aggregate', ...run.args(dir), '-q']).then((r) => ({
    ...r,
    dir,
  }))
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tally-cli-corpus-'))
  temp = join(root, 'tmp')
  mkdirSync(temp)
  // One run first, alone: it fills tsx's cache for the others.
  await runCli({ c: CASES[0]!, policy: 'skip', expected: cliOutcomes(CASES[0]!).skip }, -1)
  const done = await inPool(
    CONCURRENCY,
    RUNS.map((run, i) => () => runCli(run, i)),
  )
  RUNS.forEach((run, i) => {
    results.set(run, done[i]!)
  })
  const others = await inPool(
    CONCURRENCY,
    OTHER_RUNS.map((run, i) => () => runOther(run, i)),
  )
  OTHER_RUNS.forEach((run, i) => {
    otherResults.set(run, others[i]!)
  })
}, 300_000)

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true })
})

const SUMMARY =
  /^tally: ([\d,]+) rows read, ([\d,]+) rejected, ([\d,]+) groups in [\d.]+ s \(\d+ MB\/s\)\n$/

describe('bad-input corpus: the CLI', () => {
  it(`runs every case (${RUNS.length} processes)`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40)
    expect(results.size).toBe(RUNS.length)
  })

  it('leaves nothing in the temporary directory (but the tsx cache)', () => {
    expect(readdirSync(temp).filter((name) => !name.startsWith('tsx-'))).toEqual([])
  })

  for (const run of RUNS) {
    it(`${run.c.name} --on-error ${run.policy}`, () => {
      const r = results.get(run)!
      const label = `${run.c.name} (${run.policy})`
      expect(r.signal, `${label}: killed (timeout?); stderr: ${r.stderr}`).toBeNull()
      expect(r.stderr, `${label}: no stack trace on stderr`).not.toContain('    at ')
      expect(r.stdout, `${label}: nothing on stdout (the output goes to -o)`).toBe('')
      expect(r.strayFiles, `${label}: nothing partial next to the output`).toEqual([])
      let observed: Observed
      let expected = run.expected
      if ('error' in run.expected) {
        expect(r.exitCode, `${label}: exit code; stderr: ${r.stderr}`).toBe(1)
        const match = /^tally: ([A-Z_]+): ([^\n]+)\n$/.exec(r.stderr)
        expect(
          match,
          `${label}: one line "tally: CODE: message" on stderr, got ${JSON.stringify(r.stderr.slice(0, 500))}`,
        ).not.toBeNull()
        expect(r.output, `${label}: no output file after a failure`).toBeUndefined()
        expect(r.rejects, `${label}: no rejects file after a failure`).toBeUndefined()
        const line = /\bline (\d+)\b/.exec(match![2]!)
        observed = {
          ok: false,
          code: match![1]!,
          line: line ? Number(line[1]) : undefined,
          message: match![2]!,
        }
        if (!line && run.expected.line !== undefined) {
          // The CLI prints the message, not the error's line field: a row error must name its
          // line in the message; a file refused from its first bytes need not.
          expect(ROW_CODES, `${label}: a row error names its line: ${match![2]}`).not.toContain(
            match![1],
          )
          expected = { error: run.expected.error }
        }
      } else {
        expect(r.exitCode, `${label}: exit code; stderr: ${r.stderr}`).toBe(0)
        const summary = SUMMARY.exec(r.stderr)
        expect(
          summary,
          `${label}: one summary line on stderr, got ${JSON.stringify(r.stderr.slice(0, 500))}`,
        ).not.toBeNull()
        expect(Number(summary![2]!.replaceAll(',', '')), `${label}: rejected count`).toBe(
          run.expected.rejects.length,
        )
        expect(r.output, `${label}: the output file`).toBeDefined()
        expect(r.rejects, `${label}: the rejects file`).toBeDefined()
        observed = { ok: true, csv: r.output!, rejects: rejectsOfFile(r.rejects!) }
      }
      expectOutcome(observed, expected, label)
    })
  }
})

describe('the CLI: usage and I/O errors', () => {
  for (const run of OTHER_RUNS) {
    it(`${run.name}: exit ${run.exitCode}`, () => {
      const r = otherResults.get(run)!
      expect(r.stderr, 'no stack trace on stderr').not.toContain('    at ')
      expect(r.exitCode, `exit code; stderr: ${r.stderr}`).toBe(run.exitCode)
      if (run.names) {
        const path = run.names(r.dir)
        expect(r.stderr, 'one line "tally: ..." on stderr').toMatch(/^tally: [^\n]+\n$/)
        expect(r.stderr, 'the message names the path given').toContain(path)
        expect(r.stderr, 'the message does not name a temporary file').not.toContain('.partial')
      }
    })
  }
})
