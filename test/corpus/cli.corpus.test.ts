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
 * Every case runs with `--on-error skip`; a third of them (and every case whose two policies
 * differ in kind, success against failure, is not enough of a reason) also with `--on-error
 * fail`, to stay within about a minute: the processes run 4 at a time, before the tests read
 * their results.
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
        const known = new Set([run.c.fileName ?? 'input.csv', 'out.csv', 'rejects.csv'])
        resolve({
          exitCode: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          signal: error?.signal ?? null,
          stdout,
          stderr,
          output: existsSync(output) ? readFileSync(output, 'utf8') : undefined,
          rejects: existsSync(rejects) ? readFileSync(rejects, 'utf8') : undefined,
          strayFiles: readdirSync(dir).filter((name) => !known.has(name)),
        })
        // The inputs of the large cases are tens of megabytes: drop each run's files at once.
        rmSync(input, { force: true })
      },
    )
  })
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
