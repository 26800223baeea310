/**
 * CSV formula injection (`escapeFormulas`): on every output path of the engine (in memory, a
 * small file on the calling thread, a file cut between 2 threads, groups spilled to disk past a
 * tiny memory budget, both orders), text values starting with `=`, `+`, `-`, `@`, tab or CR are
 * written as `"'value"` in the output and in the rejects file's text columns, and nothing else
 * changes. Off by default: the output is then exactly as before.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  aggregate,
  aggregateSync,
  createSpec,
  EngineError,
  FILE_ERROR_CODES,
} from '../../src/engine/index.js'
import { parseCsv } from '../support/parse-csv.js'

const FORMULA_STARTS = ['=', '+', '-', '@', '\t', '\r']

/** OWASP: a cell starting with one of these is a formula; escaped it is `'` + the value. */
function escapeCell(value: string): string {
  return FORMULA_STARTS.includes(value[0] ?? '') ? `'${value}` : value
}

/** A CSV field as a writer must quote it (the input side: quoted when it holds anything odd). */
function csvField(value: string): string {
  return /[",\r\n\t ]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}

const NAMES = [
  '=1+1',
  '=HYPERLINK("http://x.invalid","click")',
  '+SUM(A1:A9)',
  '-2+3',
  '@SUM(A1)',
  '\t=tabbed',
  '\r=cr',
  '=a,b "c"',
  'plain',
  'a=b',
  ' =spaced',
  'Ünïcode=',
  "'already",
]

/** Rows whose songs start with every formula character, and bad rows whose raw text does too. */
function formulaCsv(rows: number): Buffer {
  const lines = ['Song,Date,Number of Plays']
  for (let i = 0; i < rows; i++) {
    const name = `${NAMES[i % NAMES.length]}${Math.floor(i / NAMES.length) % 3000}`
    const day = String(1 + (i % 28)).padStart(2, '0')
    lines.push(`${csvField(name)},2020-02-${day},${i % 97}`)
    if (i % 1000 === 7) lines.push(`=cmd|' /C calc'!A${i},2020-02-30,1`)
    if (i % 1000 === 8) lines.push(`@evil${i},2020-02-01,-5`)
  }
  return Buffer.from(`${lines.join('\n')}\n`)
}

describe('escapeFormulas option', () => {
  it('is false by default, takes booleans and their text, refuses anything else', () => {
    expect(createSpec().escapeFormulas).toBe(false)
    expect(createSpec({ escapeFormulas: true }).escapeFormulas).toBe(true)
    expect(createSpec({ escapeFormulas: 'true' }).escapeFormulas).toBe(true)
    expect(createSpec({ escapeFormulas: 'false' }).escapeFormulas).toBe(false)
    expect(createSpec({ escapeFormulas: false }).escapeFormulas).toBe(false)
    // One spelling per value (STYLE G2): no 1/0, yes/no or other cases.
    for (const bad of ['yes', '', 'truex', '1', '0', 'TRUE', ' true']) {
      expect(() => createSpec({ escapeFormulas: bad })).toThrow(EngineError)
      expect(() => createSpec({ escapeFormulas: bad })).toThrow(
        expect.objectContaining({
          code: 'INVALID_OPTION_ESCAPE_FORMULAS',
          message: expect.stringContaining('escape_formulas must be true or false'),
        }),
      )
    }
    expect(FILE_ERROR_CODES).toContain('INVALID_OPTION_ESCAPE_FORMULAS')
  })
})

describe('escapeFormulas in memory (aggregateSync)', () => {
  const input = formulaCsv(2000)

  it('writes every formula-like song as "\'value" and leaves the others as they were', () => {
    const plain = aggregateSync(input)
    const escaped = aggregateSync(input, { escapeFormulas: true })
    const plainRows = parseCsv(plain.csv.toString())
    const escapedRows = parseCsv(escaped.csv.toString())
    expect(escapedRows.length).toBe(plainRows.length)
    expect(escapedRows[0]).toEqual(['Song', 'Date', 'Total Number of Plays for Date'])
    let escapedCount = 0
    plainRows.forEach((row, i) => {
      const [song, date, total] = row
      expect(escapedRows[i]).toEqual([escapeCell(song!), date, total])
      if (escapeCell(song!) !== song) escapedCount++
    })
    expect(escapedCount).toBeGreaterThan(1000)
    // Each escaped value is a quoted field starting with the apostrophe, on the byte level.
    const text = escaped.csv.toString()
    for (const start of FORMULA_STARTS) {
      expect(text).toContain(`\n"'${start}`)
      expect(text).not.toContain(`\n${start}`)
    }
    expect(text).toContain(`\n"'=HYPERLINK(""http://x.invalid"",""click"")`)
    // Totals and dates are as before, and no total is negative.
    for (const row of escapedRows.slice(1)) {
      expect(row[1]).toMatch(/^\d{4}-\d\d-\d\d$/)
      expect(row[2]).toMatch(/^\d+$/)
    }
  })

  it('escapes the raw row (and the other text columns) of the rejects file', () => {
    const plain = parseCsv(aggregateSync(input).rejectsCsv.toString())
    const escaped = parseCsv(aggregateSync(input, { escapeFormulas: true }).rejectsCsv.toString())
    expect(escaped[0]).toEqual(['Line', 'Code', 'Column', 'Reason', 'Raw Row'])
    expect(escaped.length).toBe(plain.length)
    expect(escaped.length).toBeGreaterThan(2)
    plain.slice(1).forEach((row, i) => {
      const [line, code, column, reason, raw] = row
      expect(escaped[i + 1]).toEqual([
        line,
        code,
        escapeCell(column!),
        escapeCell(reason!),
        escapeCell(raw!),
      ])
      expect(raw![0] === '=' || raw![0] === '@').toBe(true)
      expect(escaped[i + 1]![4]![0]).toBe("'")
    })
  })

  it('changes nothing when no value starts like a formula', () => {
    const safe = Buffer.from(
      'Song,Date,Number of Plays\n"a,b",2020-01-01,1\n"x ""y""",2020-01-02,2\n',
    )
    expect(aggregateSync(safe, { escapeFormulas: true }).csv.equals(aggregateSync(safe).csv)).toBe(
      true,
    )
  })

  it('escapes the header too, for a group_by column named like a formula', () => {
    const csv = Buffer.from('=Artist,Plays\n=x,1\ny,2\n')
    const out = aggregateSync(csv, { groupBy: ['=Artist'], sum: 'Plays', escapeFormulas: true })
    expect(out.csv.toString()).toBe(`"'=Artist",Total Plays\n"'=x",1\ny,2\n`)
  })
})

describe.each(['first_seen', 'sorted'] as const)('escapeFormulas on files, order %s', (order) => {
  let dir: string
  let small: string
  let big: string
  let smallBytes: Buffer
  let bigBytes: Buffer

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tally-escape-'))
    smallBytes = formulaCsv(500)
    bigBytes = formulaCsv(120_000)
    small = join(dir, 'small.csv')
    big = join(dir, 'big.csv')
    writeFileSync(small, smallBytes)
    writeFileSync(big, bigBytes)
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const runs = [
    { label: 'a small file on the calling thread', file: 'small', threads: 2, memoryMb: undefined },
    { label: 'a file cut between 2 threads', file: 'big', threads: 2, memoryMb: undefined },
    { label: 'one thread, spilled past a tiny budget', file: 'big', threads: 1, memoryMb: 0.05 },
    { label: '2 threads, spilled past a tiny budget', file: 'big', threads: 2, memoryMb: 0.05 },
  ] as const

  for (const run of runs) {
    it(`gives the in-memory engine's escaped bytes: ${run.label}`, async () => {
      const bytes = run.file === 'small' ? smallBytes : bigBytes
      expect(bytes.length > 64 * 1024).toBe(run.file === 'big')
      const expected = aggregateSync(bytes, { order, escapeFormulas: true })
      const output = join(dir, `out-${order}-${run.file}-${run.threads}-${run.memoryMb}.csv`)
      const rejects = join(dir, `rejects-${order}-${run.file}-${run.threads}-${run.memoryMb}.csv`)
      const summary = await aggregate(run.file === 'small' ? small : big, output, {
        order,
        escapeFormulas: true,
        threads: run.threads,
        memoryMb: run.memoryMb,
        rejects,
        minRangeBytes: 256 * 1024,
        tempDir: dir,
      })
      if (run.memoryMb) expect(summary.spills).toBeGreaterThan(0)
      expect(summary.groups).toBe(expected.summary.groups)
      const got = readFileSync(output)
      expect(got.toString()).toContain(`\n"'=1+1`)
      expect(got.equals(expected.csv)).toBe(true)
      expect(readFileSync(rejects).equals(expected.rejectsCsv)).toBe(true)
      expect(readFileSync(rejects).toString()).toContain(`"'=cmd|`)
    })
  }

  it('leaves the output as it was without the option (threads and spill)', async () => {
    const output = join(dir, `plain-${order}.csv`)
    await aggregate(big, output, {
      order,
      threads: 2,
      memoryMb: 0.05,
      minRangeBytes: 256 * 1024,
      tempDir: dir,
    })
    const got = readFileSync(output)
    expect(got.equals(aggregateSync(bigBytes, { order }).csv)).toBe(true)
    expect(got.toString()).not.toContain(`"'`)
  })
})
