/**
 * `--escape-formulas` on the command line, as a user runs it (a child process):
 * `tally aggregate` writes formula-like values as text in the totals and the rejects file, on
 * the threaded path too; `tally submit` passes the option to the server's job.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { aggregateSync } from '../../src/engine/index.js'
import { startService, type TestService } from '../http/support/service.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function tally(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { ...process.env, TALLY_SERVER: '', TALLY_API_KEY: '' }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

const CSV =
  'Song,Date,Number of Plays\n=1+1,2020-01-01,5\n@SUM(A1),2020-01-02,2\nok,2020-01-01,1\n+bad,2020-02-30,1\n'
const ESCAPED = `Song,Date,Total Number of Plays for Date\n"'=1+1",2020-01-01,5\n"'@SUM(A1)",2020-01-02,2\nok,2020-01-01,1\n`

/** A file large enough for two threads (well past 64 KiB), with formulas all through it. */
function bigCsv(): Buffer {
  const lines = ['Song,Date,Number of Plays']
  for (let i = 0; i < 60_000; i++) {
    const prefix = ['=', '+', '-', '@', 'x'][i % 5]
    lines.push(
      `${prefix}song${i % 4000},2020-01-${String(1 + (i % 28)).padStart(2, '0')},${i % 50}`,
    )
  }
  lines.push('=oops,2020-01-01,x')
  return Buffer.from(`${lines.join('\n')}\n`)
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-escape-cli-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('tally aggregate --escape-formulas', () => {
  it('escapes the totals and the rejects; without the flag nothing changes', async () => {
    const input = join(dir, 'small.csv')
    await writeFile(input, CSV)
    const output = join(dir, 'small-out.csv')
    const rejects = join(dir, 'small-rejects.csv')
    const run = await tally([
      'aggregate',
      input,
      '--escape-formulas',
      '-o',
      output,
      '--rejects',
      rejects,
      '-q',
    ])
    expect(run.code, run.stderr).toBe(0)
    expect(await readFile(output, 'utf8')).toBe(ESCAPED)
    expect(await readFile(rejects, 'utf8')).toContain(`,"'+bad,2020-02-30,1"\n`)

    const plain = await tally(['aggregate', input, '-q'])
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).toBe(aggregateSync(Buffer.from(CSV)).csv.toString())
    expect(plain.stdout).toContain('\n=1+1,')
  }, 120_000)

  it('escapes on the threaded path, byte for byte as the in-memory engine', async () => {
    const bytes = bigCsv()
    const input = join(dir, 'big.csv')
    await writeFile(input, bytes)
    const run = await tally([
      'aggregate',
      input,
      '--escape-formulas',
      '--threads',
      '2',
      '--order',
      'sorted',
      '-q',
    ])
    expect(run.code, run.stderr).toBe(0)
    const expected = aggregateSync(bytes, { order: 'sorted', escapeFormulas: true }).csv.toString()
    expect(run.stdout).toBe(expected)
    expect(run.stdout).toContain(`\n"'=song`)
  }, 120_000)

  it('is listed in the help of aggregate and submit', async () => {
    for (const command of ['aggregate', 'submit']) {
      const help = await tally([command, '--help'])
      expect(help.stdout).toContain('--escape-formulas')
    }
  }, 120_000)
})

describe('tally submit --escape-formulas', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({ listen: true })
  })
  afterAll(() => t?.close())

  it('starts the job with the option and downloads escaped totals', async () => {
    const input = join(dir, 'submit.csv')
    await writeFile(input, CSV)
    const output = join(dir, 'submit-out.csv')
    const run = await tally(['submit', input, '--server', t.url, '--escape-formulas', '-o', output])
    expect(run.code, run.stderr).toBe(0)
    expect(await readFile(output, 'utf8')).toBe(ESCAPED)
    const id = run.stdout.trim()
    const view = (await t.inject({ method: 'GET', url: `/jobs/${id}` })).json()
    expect(view.options.escape_formulas).toBe(true)
  }, 120_000)
})
