/**
 * One file aggregated in parts (as separate workers do it): each part sees only its slice of the
 * input (and the bytes it asks for past it), parts whose guessed start fell inside a quoted
 * field are aggregated again, and the merged output, rejects and errors are exactly those of one
 * run over the whole file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AggregateOptions,
  aggregatePart,
  aggregateSync,
  expectedStart,
  isEngineError,
  mergeParts,
  type PartSummary,
  partChainBreak,
  readCsvHeader,
} from '../../src/engine/index.js'
import { chunksOf } from '../support/chunks.js'
import { generatedCsv } from '../support/csv-arbitrary.js'
import { largeCsv } from '../support/large-csv.js'

let dir: string
let runs = 0

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tally-parts-'))
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface PartsRun {
  /** How many slices were aggregated again from the right start. */
  redone: number
  /** How many times a slice asked for more bytes. */
  extended: number
}

type Outcome =
  | { ok: true; csv: string; rejects: string; rows: number; rejected: number; groups: number }
  | {
      ok: false
      code: string
      line: number | undefined
      column: string | undefined
      message: string
    }

/**
 * What a split job does: slice i gets the bytes `[bound_i - 1, bound_i+1 + slack)` only, and
 * asks for more when its last row runs past them.
 */
async function inParts(
  bytes: Buffer,
  bounds: number[],
  options: AggregateOptions,
  slack: number,
  stats: PartsRun = { redone: 0, extended: 0 },
  /** MiB for a part's groups (past it they spill), and for the merge (past it, by partition). */
  memory = { part: 0.05, merge: 1024 },
): Promise<Outcome> {
  const run = join(dir, `run-${runs++}`)
  try {
    const header = await readCsvHeader(chunksOf(bytes, 1000), options)
    const slices = [header.dataStart, ...bounds.filter((b) => b > header.dataStart), bytes.length]
    const partPath = (i: number) => `${run}-part-${i}`
    const aggregateSlice = async (i: number, start: number, exactStart: boolean) => {
      for (let extra = slack; ; extra *= 4) {
        const from = exactStart ? start : start - 1
        const to = Math.min(bytes.length, slices[i + 1]! + extra)
        const path = `${run}-slice-${i}`
        writeFileSync(path, bytes.subarray(from, to))
        const outcome = await aggregatePart(
          { path, fileOffset: from, inputBytes: bytes.length },
          partPath(i),
          {
            ...options,
            header,
            start,
            stop: slices[i + 1]!,
            exactStart,
            threads: 2,
            minRangeBytes: 4096,
            memoryMb: memory.part,
            tempDir: dir,
          },
        )
        if (outcome.kind === 'part') return outcome.summary
        stats.extended++
      }
    }
    const summaries: PartSummary[] = []
    for (let i = 0; i < slices.length - 1; i++) {
      summaries.push(await aggregateSlice(i, slices[i]!, i === 0))
    }
    for (;;) {
      const broken = partChainBreak(header, summaries)
      if (broken === -1) break
      stats.redone++
      summaries[broken] = await aggregateSlice(
        broken,
        expectedStart(header, summaries, broken),
        true,
      )
    }
    const output = `${run}-out.csv`
    const rejects = `${run}-rejects.csv`
    const summary = await mergeParts(
      summaries.map((_, i) => partPath(i)),
      output,
      {
        ...options,
        header,
        inputBytes: bytes.length,
        rejects,
        threads: 2,
        memoryMb: memory.merge,
        tempDir: dir,
      },
    )
    return {
      ok: true,
      csv: readFileSync(output, 'latin1'),
      rejects: readFileSync(rejects, 'latin1'),
      rows: summary.rowsRead,
      rejected: summary.rowsRejected,
      groups: summary.groups,
    }
  } catch (error) {
    if (!isEngineError(error)) throw error
    return errorOutcome(error)
  }
}

function whole(bytes: Buffer, options: AggregateOptions): Outcome {
  try {
    const { csv, rejectsCsv, summary } = aggregateSync(bytes, options)
    return {
      ok: true,
      csv: csv.toString('latin1'),
      rejects: rejectsCsv.toString('latin1'),
      rows: summary.rowsRead,
      rejected: summary.rowsRejected,
      groups: summary.groups,
    }
  } catch (error) {
    if (!isEngineError(error)) throw error
    return errorOutcome(error)
  }
}

function errorOutcome(error: {
  code: string
  line?: number
  column?: string
  message: string
}): Outcome {
  const { code, line, column, message } = error
  return { ok: false, code, line, column, message }
}

/** `n` bounds spread over the file. */
function even(bytes: Buffer, n: number): number[] {
  return Array.from({ length: n - 1 }, (_, i) => Math.floor((bytes.length * (i + 1)) / n))
}

describe('a file in parts', () => {
  const big = largeCsv(11, 600_000)

  it.each([
    ['first_seen', 'parts spill, the merge holds its share at once', { part: 0.05, merge: 1024 }],
    [
      'sorted',
      'no part spills, the merge reads one partition at a time',
      { part: 1024, merge: 0.05 },
    ],
  ] as const)(
    'gives the bytes of one run, quoted line ends at the cuts and all (%s; %s)',
    async (order, _how, memory) => {
      const stats = { redone: 0, extended: 0 }
      const parts = await inParts(big, even(big, 4), { order }, 1, stats, memory)
      expect(parts).toEqual(whole(big, { order }))
      expect(parts.ok && parts.rejected).toBeGreaterThan(0)
      // One byte of slack: a slice whose last row runs past it asks for more.
      expect(stats.extended).toBeGreaterThan(0)
    },
  )

  it('aggregates again the slices whose guessed start fell inside a quoted field', async () => {
    // Every cut falls just inside a quoted song that holds a fake row.
    const text = `Song,Date,Number of Plays\n${'"x\nFake,2020-01-01,1000\ny",2020-01-02,1\nplain,2020-01-02,2\n'.repeat(40)}`
    const bytes = Buffer.from(text)
    const cuts = [...text.matchAll(/Fake/g)].map((m) => m.index!).filter((_, i) => i % 5 === 2)
    const stats = { redone: 0, extended: 0 }
    const parts = await inParts(bytes, cuts, {}, 1 << 20, stats)
    expect(parts).toEqual(whole(bytes, {}))
    expect(stats.redone).toBe(cuts.length)
  })

  it('is exact when the threads of a part exchanged rows and a guessed thread start fell inside a quoted field', async () => {
    // A part's threads hand each other rows as a whole file's do; here the guess for the second
    // thread of the second part falls inside a quoted field of many lines, so the part must be
    // read again without the exchange.
    const songs = Array.from({ length: 3000 }, (_, i) => `Song ${i % 500}`)
    const rows = (from: number) =>
      songs.map(
        (song, i) => `${song},2020-01-${String(1 + ((i + from) % 28)).padStart(2, '0')},${i % 7}`,
      )
    const quoted = `"A song\n${'of many lines,\n'.repeat(4000)}end",2020-03-01,5`
    const text = `Song,Date,Number of Plays\n${rows(0).join('\n')}\n${rows(1).join('\n')}\n${quoted}\n${rows(3).join('\n')}\n`
    const bytes = Buffer.from(text)
    const cut = text.indexOf(rows(1)[0]!)
    // The second part's threads split halfway through it: inside the quoted field.
    const middle = (cut + bytes.length) / 2
    const quoteAt = text.indexOf('"A song')
    expect(quoteAt).toBeLessThan(middle)
    expect(quoteAt + quoted.length).toBeGreaterThan(middle)
    for (const order of ['first_seen', 'sorted'] as const) {
      expect(await inParts(bytes, [cut], { order }, 1 << 20)).toEqual(whole(bytes, { order }))
    }
  })

  it('handles slices where no row starts and a single part', async () => {
    const text = `Song,Date,Number of Plays\n"${'long '.repeat(400)}",2020-01-01,5\nb,2020-01-01,1\n`
    const bytes = Buffer.from(text)
    expect(await inParts(bytes, [100, 200, 300, 1000], {}, 16)).toEqual(whole(bytes, {}))
    expect(await inParts(bytes, [], {}, 16)).toEqual(whole(bytes, {}))
  })

  it('fails with the error and line of one run (on_error=fail), wherever the bad row is', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => `s${i % 17},2020-01-0${1 + (i % 9)},${i}`)
    rows[211] = 's1,2020-13-01,5'
    const bytes = Buffer.from(`Song,Date,Number of Plays\n${rows.join('\n')}\n`)
    const outcome = await inParts(bytes, even(bytes, 5), { onError: 'fail' }, 8)
    expect(outcome).toEqual(whole(bytes, { onError: 'fail' }))
    expect(outcome).toMatchObject({ ok: false, code: 'CSV_BAD_DATE', line: 213 })
  })

  it('fails like one run when every row is bad', async () => {
    const bytes = Buffer.from(`Song,Date,Number of Plays\n${'a,2020-01-01,x\n'.repeat(500)}`)
    const outcome = await inParts(bytes, even(bytes, 3), {}, 8)
    expect(outcome).toEqual(whole(bytes, {}))
    expect(outcome).toMatchObject({ ok: false, code: 'CSV_NO_VALID_ROWS' })
  })

  it('gives the result of one run on generated CSVs cut anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        generatedCsv(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
        fc.constantFrom(1, 7, 4096),
        async ({ bytes, options }, fractions, slack) => {
          let expected: Outcome
          try {
            expected = whole(bytes, options)
          } catch {
            return // Not a file whose header reads (the engine has tests for those).
          }
          if (!expected.ok && /HEADER|EMPTY|COLUMN/.test(expected.code)) return
          const bounds = [...new Set(fractions.map((f) => Math.floor(f * bytes.length)))].sort(
            (a, b) => a - b,
          )
          expect(await inParts(bytes, bounds, options, slack)).toEqual(expected)
        },
      ),
      { numRuns: 12 },
    )
  }, 120_000)
})
