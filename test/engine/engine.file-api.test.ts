/**
 * The file API `aggregate(input, output, options)` on real temporary files: plain and gzip
 * input, async-iterable input, the rejects file, atomic output (nothing left behind on failure),
 * an already aborted signal, and byte-for-byte the same output as `aggregateSync` for 1 to 4
 * threads, whatever byte ranges the file is cut into.
 */
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
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AggregateRunOptions,
  type AggregateSummary,
  aggregate,
  aggregateSync,
  isEngineError,
} from '../../src/engine/index.js'
import { chunksOf } from '../support/chunks.js'
import { generatedCsv } from '../support/csv-arbitrary.js'
import { lines } from '../support/engine-outcome.js'
import { largeCsv } from '../support/large-csv.js'
import { parseCsv } from '../support/parse-csv.js'
import { referenceAggregate } from '../support/reference.js'

const HEADER = 'Song,Date,Number of Plays'
const OUT = 'Song,Date,Total Number of Plays for Date'

const designExample = lines(
  HEADER,
  'Umbrella,2020-01-02,200',
  'Umbrella,2020-01-01,100',
  'In The End,2020-01-01,500',
  'Umbrella,2020-01-01,50',
  'In The End,2020-01-01,1000',
  'Umbrella,2020-01-02,50',
  'In The End,2020-01-02,500',
)
const designOutput = lines(
  OUT,
  'Umbrella,2020-01-02,250',
  'Umbrella,2020-01-01,150',
  'In The End,2020-01-01,1500',
  'In The End,2020-01-02,500',
)

let root: string
let caseNumber = 0

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tally-engine-file-api-'))
})

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

/** A fresh directory for one case, with a `temp` directory for the engine's temporary files. */
function workspace(): { dir: string; tempDir: string; path: (name: string) => string } {
  const dir = join(root, `case-${++caseNumber}`)
  const tempDir = join(dir, 'temp')
  mkdirSync(tempDir, { recursive: true })
  return { dir, tempDir, path: (name) => join(dir, name) }
}

async function engineError(run: Promise<unknown>): Promise<{ code: string; line?: number }> {
  try {
    await run
  } catch (error) {
    expect(isEngineError(error), String(error)).toBe(true)
    return error as { code: string; line?: number }
  }
  throw new Error('expected an EngineError, the aggregation succeeded')
}

/** The summary fields every path reports the same way (others, e.g. spill counts, may differ). */
function counts(summary: AggregateSummary) {
  const { bytesRead, rowsRead, rowsRejected, groups, outputBytes, rejectsBytes } = summary
  return { bytesRead, rowsRead, rowsRejected, groups, outputBytes, rejectsBytes }
}

async function* chunksFrom(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (const chunk of chunksOf(bytes, size)) yield chunk
}

describe('file API: inputs', () => {
  it('aggregates a plain file into the output file', async () => {
    const w = workspace()
    writeFileSync(w.path('in.csv'), designExample)
    const summary = await aggregate(w.path('in.csv'), w.path('out.csv'), { tempDir: w.tempDir })
    expect(readFileSync(w.path('out.csv'), 'utf8')).toBe(designOutput)
    expect(summary).toMatchObject({
      bytesRead: Buffer.byteLength(designExample),
      rowsRead: 7,
      rowsRejected: 0,
      groups: 4,
      outputBytes: Buffer.byteLength(designOutput),
    })
    expect(readdirSync(w.dir).sort()).toEqual(['in.csv', 'out.csv', 'temp'])
    expect(readdirSync(w.tempDir)).toEqual([])
  })

  it('detects gzip by its magic bytes, whatever the file name', async () => {
    const w = workspace()
    writeFileSync(w.path('in.csv'), gzipSync(designExample))
    const summary = await aggregate(w.path('in.csv'), w.path('out.csv'), {
      order: 'sorted',
      tempDir: w.tempDir,
    })
    expect(readFileSync(w.path('out.csv'), 'utf8')).toBe(
      lines(
        OUT,
        'In The End,2020-01-01,1500',
        'In The End,2020-01-02,500',
        'Umbrella,2020-01-01,150',
        'Umbrella,2020-01-02,250',
      ),
    )
    expect(summary.bytesRead).toBe(Buffer.byteLength(designExample))
    expect(readdirSync(w.tempDir)).toEqual([])
  })

  it('aggregates an async iterable of chunks, plain or gzip', async () => {
    const w = workspace()
    const bytes = Buffer.from(designExample)
    await aggregate(chunksFrom(bytes, 7), w.path('plain.csv'), { tempDir: w.tempDir })
    expect(readFileSync(w.path('plain.csv'), 'utf8')).toBe(designOutput)
    await aggregate(chunksFrom(gzipSync(bytes), 5), w.path('gzip.csv'), { tempDir: w.tempDir })
    expect(readFileSync(w.path('gzip.csv'), 'utf8')).toBe(designOutput)
    expect(readdirSync(w.tempDir)).toEqual([])
  })

  it('writes the rejects file, the same as aggregateSync', async () => {
    const w = workspace()
    const input = lines(HEADER, 'A,2020-01-01,1', 'B,2020-02-30,1', '"C\nD",2020-01-01,x', 'E"')
    writeFileSync(w.path('in.csv'), input)
    const summary = await aggregate(w.path('in.csv'), w.path('out.csv'), {
      rejects: w.path('rejects.csv'),
      tempDir: w.tempDir,
    })
    const sync = aggregateSync(Buffer.from(input))
    expect(readFileSync(w.path('out.csv'), 'utf8')).toBe(lines(OUT, 'A,2020-01-01,1'))
    expect(readFileSync(w.path('rejects.csv'))).toEqual(sync.rejectsCsv)
    const rows = parseCsv(readFileSync(w.path('rejects.csv'), 'utf8'))
    expect(rows.map(([line, code, column, , raw]) => [line, code, column, raw])).toEqual([
      ['Line', 'Code', 'Column', 'Raw Row'],
      ['3', 'CSV_BAD_DATE', 'Date', 'B,2020-02-30,1'],
      ['4', 'CSV_BAD_NUMBER', 'Number of Plays', '"C\nD",2020-01-01,x'],
      ['6', 'CSV_FIELD_COUNT', '', 'E"'],
    ])
    expect(counts(summary)).toEqual(counts(sync.summary))
  })

  it('refuses invalid thread and memory options with an EngineError', async () => {
    const w = workspace()
    writeFileSync(w.path('in.csv'), designExample)
    for (const options of [{ threads: 0 }, { threads: 1.5 }, { memoryMb: 0 }, { memoryMb: -1 }]) {
      const error = await engineError(
        aggregate(w.path('in.csv'), w.path('out.csv'), { ...options, tempDir: w.tempDir }),
      )
      expect(error.code, JSON.stringify(options)).toMatch(/^INVALID_OPTION_/)
    }
    expect(readdirSync(w.dir).sort()).toEqual(['in.csv', 'temp'])
  })

  it('fails with the engine codes for empty, binary and header-less files', async () => {
    const w = workspace()
    const cases: [string, Uint8Array, string][] = [
      ['empty.csv', new Uint8Array(0), 'CSV_EMPTY_FILE'],
      ['blank.csv', Buffer.from('\n\r\n  \n'), 'CSV_EMPTY_FILE'],
      ['zip.csv', Buffer.from('PK\x03\x04\x14\0\0\0', 'latin1'), 'CSV_NOT_TEXT'],
      ['columns.csv', Buffer.from(lines('Song,Day,Plays', 'A,1,1')), 'CSV_MISSING_COLUMNS'],
      ['all-bad.csv', Buffer.from(lines(HEADER, 'A,x,1', 'B,y,2')), 'CSV_NO_VALID_ROWS'],
    ]
    for (const [name, bytes, code] of cases) {
      writeFileSync(w.path(name), bytes)
      const error = await engineError(
        aggregate(w.path(name), w.path(`${name}.out`), { tempDir: w.tempDir }),
      )
      expect(error.code, name).toBe(code)
      expect(existsSync(w.path(`${name}.out`)), name).toBe(false)
    }
    expect(readdirSync(w.tempDir)).toEqual([])
  })
})

describe('file API: atomic output', () => {
  it('leaves no output, rejects or temporary file when the aggregation fails', async () => {
    const w = workspace()
    writeFileSync(w.path('in.csv'), lines(HEADER, 'A,2020-01-01,1', 'B,2020-01-01,x'))
    const error = await engineError(
      aggregate(w.path('in.csv'), w.path('out.csv'), {
        onError: 'fail',
        rejects: w.path('rejects.csv'),
        tempDir: w.tempDir,
      }),
    )
    expect(error).toMatchObject({ code: 'CSV_BAD_NUMBER', line: 3 })
    expect(readdirSync(w.dir).sort()).toEqual(['in.csv', 'temp'])
    expect(readdirSync(w.tempDir)).toEqual([])
  })

  it('keeps an existing output file unchanged when the aggregation fails', async () => {
    const w = workspace()
    writeFileSync(w.path('out.csv'), 'previous result\n')
    writeFileSync(w.path('rejects.csv'), 'previous rejects\n')
    writeFileSync(w.path('in.csv'), lines('Song,Plays', 'A,1'))
    const error = await engineError(
      aggregate(w.path('in.csv'), w.path('out.csv'), {
        rejects: w.path('rejects.csv'),
        tempDir: w.tempDir,
      }),
    )
    expect(error.code).toBe('CSV_MISSING_COLUMNS')
    expect(readFileSync(w.path('out.csv'), 'utf8')).toBe('previous result\n')
    expect(readFileSync(w.path('rejects.csv'), 'utf8')).toBe('previous rejects\n')
    expect(readdirSync(w.dir).sort()).toEqual(['in.csv', 'out.csv', 'rejects.csv', 'temp'])
  })

  it('leaves nothing behind when a bad row late in a large file fails it on many threads', async () => {
    const w = workspace()
    const good = largeCsv(7, 1_500_000, { plainShare: 1 })
    const headerBytes = good.indexOf('\n') + 1
    const late = Buffer.from('x,late,2020-02-30,1\n')
    const input = Buffer.concat([good, late, good.subarray(headerBytes)])
    writeFileSync(w.path('in.csv'), input)
    const expected = (() => {
      try {
        aggregateSync(input, { groupBy: ['Song', 'Date'], onError: 'fail' })
      } catch (error) {
        return error as { code: string; line: number }
      }
      throw new Error('aggregateSync should fail')
    })()
    expect(expected.code).toBe('CSV_BAD_DATE')
    for (const threads of [1, 4]) {
      const error = await engineError(
        aggregate(w.path('in.csv'), w.path('out.csv'), {
          onError: 'fail',
          threads,
          minRangeBytes: 64 * 1024,
          rejects: w.path('rejects.csv'),
          tempDir: w.tempDir,
        }),
      )
      expect(error, `threads=${threads}`).toMatchObject({
        code: 'CSV_BAD_DATE',
        line: expected.line,
        column: 'Date',
      })
      expect(readdirSync(w.dir).sort()).toEqual(['in.csv', 'temp'])
      expect(readdirSync(w.tempDir)).toEqual([])
    }
  })

  it('rejects with ABORTED for an already aborted signal and writes nothing', async () => {
    const w = workspace()
    writeFileSync(w.path('in.csv'), designExample)
    const controller = new AbortController()
    controller.abort()
    const error = await engineError(
      aggregate(w.path('in.csv'), w.path('out.csv'), {
        signal: controller.signal,
        rejects: w.path('rejects.csv'),
        tempDir: w.tempDir,
      }),
    )
    expect(error.code).toBe('ABORTED')
    const gzipError = await engineError(
      aggregate(chunksFrom(gzipSync(designExample), 9), w.path('out.csv'), {
        signal: controller.signal,
        tempDir: w.tempDir,
      }),
    )
    expect(gzipError.code).toBe('ABORTED')
    expect(readdirSync(w.dir).sort()).toEqual(['in.csv', 'temp'])
    expect(readdirSync(w.tempDir)).toEqual([])
  })
})

describe('file API: threads give the same bytes as aggregateSync', () => {
  async function expectSameAsSync(
    w: ReturnType<typeof workspace>,
    input: Buffer,
    options: AggregateRunOptions,
    sync = aggregateSync(input, options),
  ): Promise<void> {
    const label = JSON.stringify({ ...options, tempDir: undefined })
    const summary: AggregateSummary = await aggregate(w.path('in.csv'), w.path('out.csv'), {
      ...options,
      rejects: w.path('rejects.csv'),
      tempDir: w.tempDir,
    })
    // Buffer.equals first: a diff of megabytes is not useful, the first difference is.
    const out = readFileSync(w.path('out.csv'))
    if (!out.equals(sync.csv)) {
      const at = out.findIndex((b, i) => b !== sync.csv[i])
      expect(out.subarray(at - 100, at + 100).toString(), label).toBe(
        sync.csv.subarray(at - 100, at + 100).toString(),
      )
      expect(out.length, label).toBe(sync.csv.length)
    }
    const rejects = readFileSync(w.path('rejects.csv'))
    if (!rejects.equals(sync.rejectsCsv)) {
      expect(rejects.toString(), label).toBe(sync.rejectsCsv.toString())
    }
    expect(counts(summary), label).toEqual(counts(sync.summary))
    expect(readdirSync(w.tempDir), label).toEqual([])
  }

  it('on a ~3 MB file with multi-line quoted fields everywhere, threads 1 to 4, both orders', async () => {
    const w = workspace()
    const input = largeCsv(1, 3_000_000)
    writeFileSync(w.path('in.csv'), input)
    // The engine itself is checked against the reference on this very file.
    const sync = aggregateSync(input)
    const reference = referenceAggregate(input)
    expect('csv' in reference && reference.csv === sync.csv.toString()).toBe(true)
    for (const threads of [1, 2, 3, 4]) {
      await expectSameAsSync(w, input, { threads, minRangeBytes: 64 * 1024 }, sync)
    }
    await expectSameAsSync(w, input, { threads: 3, order: 'sorted', minRangeBytes: 64 * 1024 })
  }, 120_000)

  it('on a ~4 MB file of over 131072 groups, with and without a tiny memory budget', async () => {
    const w = workspace()
    const input = largeCsv(2, 4_200_000, { plainShare: 0.95, distinctSongs: 1_000_000 })
    writeFileSync(w.path('in.csv'), input)
    const sync = aggregateSync(input)
    expect(sync.summary.groups).toBeGreaterThan(131072)
    const reference = referenceAggregate(input)
    expect('csv' in reference && reference.csv === sync.csv.toString()).toBe(true)
    for (const threads of [1, 4]) {
      await expectSameAsSync(w, input, { threads, minRangeBytes: 64 * 1024 }, sync)
    }
    await expectSameAsSync(w, input, { threads: 3, memoryMb: 1, minRangeBytes: 64 * 1024 }, sync)
    const sorted = aggregateSync(input, { order: 'sorted' })
    const sortedReference = referenceAggregate(input, { order: 'sorted' })
    expect('csv' in sortedReference && sortedReference.csv === sorted.csv.toString()).toBe(true)
    await expectSameAsSync(
      w,
      input,
      { threads: 2, memoryMb: 1, order: 'sorted', minRangeBytes: 64 * 1024 },
      sorted,
    )
  }, 120_000)

  it('when the threads write their ranges of the output in place: prefixes, quotes, formulas, huge totals', async () => {
    // Each thread writes the rows of a range of keys at the place the rows before it leave, which
    // it counts without writing them: every kind of field width must count exactly as written.
    const w = workspace()
    const names = (i: number) => [
      `s${i}`,
      `s${i}x`, // "s1" < "s1x" < "s10": a value that is a prefix of another sorts first
      `a,${i}`,
      `he said "${i}"`,
      ` pad ${i}`,
      `=${i}+1`,
      `-${i}`,
      `été ${i}`,
    ]
    const rows: string[] = []
    for (let i = 0; i < 2500; i++) {
      names(i).forEach((name, n) => {
        const song = /[,"]|^ /.test(name) ? `"${name.replaceAll('"', '""')}"` : name
        const count = (i + n) % 97 === 0 ? '9007199254740991' : String((i * 7 + n) % 1000)
        rows.push(`${song},2020-0${1 + ((i + n) % 9)}-1${n},${count}`)
        if ((i + n) % 97 === 0) rows.push(`${song},2020-0${1 + ((i + n) % 9)}-1${n},5`)
      })
    }
    const input = Buffer.from(`${HEADER}\n${rows.reverse().join('\n')}\n`)
    writeFileSync(w.path('in.csv'), input)
    for (const order of ['first_seen', 'sorted'] as const) {
      for (const escapeFormulas of [false, true]) {
        const sync = aggregateSync(input, { order, escapeFormulas })
        expect(sync.summary.groups).toBeGreaterThan(4 * 4096)
        expect(sync.csv.toString()).toContain('9007199254740996')
        for (const threads of [2, 3]) {
          const options = { threads, order, escapeFormulas, minRangeBytes: 16 * 1024 }
          await expectSameAsSync(w, input, options, sync)
        }
      }
    }
  })

  it('for gzip and streamed input of a large file', async () => {
    const w = workspace()
    const input = largeCsv(3, 1_000_000)
    const sync = aggregateSync(input)
    writeFileSync(w.path('in.csv'), gzipSync(input))
    await expectSameAsSync(w, input, { threads: 3, minRangeBytes: 64 * 1024 }, sync)
    await aggregate(chunksFrom(input, 100_003), w.path('streamed.csv'), {
      threads: 2,
      minRangeBytes: 64 * 1024,
      tempDir: w.tempDir,
    })
    expect(readFileSync(w.path('streamed.csv')).equals(sync.csv)).toBe(true)
  })

  it('with a BOM, blank lines and a multi-line header before the data', async () => {
    const w = workspace()
    const header =
      '\uFEFF\n  \n\r\n\t\n"Ex\ntra", "Song" ,Date,"Number of Plays"\r\n\n' +
      `"${'long\n'.repeat(20_000)}",Umbrella,2020-01-01,5\n`
    const input = Buffer.concat([Buffer.from(header), largeCsv(4, 400_000).subarray(32)])
    writeFileSync(w.path('in.csv'), input)
    const sync = aggregateSync(input)
    expect(sync.summary.rowsRejected).toBeGreaterThan(0)
    for (const threads of [1, 2, 4]) {
      await expectSameAsSync(w, input, { threads, minRangeBytes: 16 * 1024 }, sync)
    }
  })

  it('when the threads exchanged rows and a guessed range start fell inside a quoted field', async () => {
    // Every range but the first starts at a guess; here the guess for range 2 of 2 falls inside
    // a quoted field of many lines, so the rows the threads handed each other were read from a
    // wrong place: the engine must start over without the exchange and still be exact.
    const w = workspace()
    const songs = Array.from({ length: 5000 }, (_, i) => `Song ${i % 700}`)
    const rows = (from: number) =>
      songs.map(
        (song, i) => `${song},2020-01-${String(1 + ((i + from) % 28)).padStart(2, '0')},${i % 7}`,
      )
    const quoted = `"A song
${'of many lines,\n'.repeat(20_000)}end",2020-03-01,5`
    const input = Buffer.from(
      `${HEADER}\n${rows(0).join('\n')}\n${quoted}\n${rows(3).join('\n')}\n`,
    )
    const quoteAt = input.indexOf('"A song')
    const middle = (HEADER.length + 1 + input.length) / 2
    expect(quoteAt).toBeLessThan(middle)
    expect(quoteAt + quoted.length).toBeGreaterThan(middle)
    writeFileSync(w.path('in.csv'), input)
    await expectSameAsSync(w, input, { threads: 2, minRangeBytes: 16 * 1024 })
    await expectSameAsSync(w, input, { threads: 2, minRangeBytes: 16 * 1024, order: 'sorted' })
  })

  it('with only blank lines after the header, or only bad rows', async () => {
    const w = workspace()
    const blank = Buffer.from(`${HEADER}\n${'\n  \r\n'.repeat(30_000)}A,2020-01-01,1\n`)
    writeFileSync(w.path('in.csv'), blank)
    for (const threads of [1, 4]) {
      await expectSameAsSync(w, blank, { threads, minRangeBytes: 16 * 1024 })
    }
    expect(readFileSync(w.path('out.csv'), 'utf8')).toBe(lines(OUT, 'A,2020-01-01,1'))
    const allBad = Buffer.from(`${HEADER}\n${'A,2020-02-30,1\n'.repeat(10_000)}`)
    writeFileSync(w.path('bad.csv'), allBad)
    for (const threads of [1, 4]) {
      const error = await engineError(
        aggregate(w.path('bad.csv'), w.path('bad.out'), {
          threads,
          minRangeBytes: 16 * 1024,
          tempDir: w.tempDir,
        }),
      )
      expect(error).toMatchObject({ code: 'CSV_NO_VALID_ROWS' })
      expect(existsSync(w.path('bad.out'))).toBe(false)
    }
  })

  it('on generated files of good and bad rows of every kind', async () => {
    const w = workspace()
    // A generated CSV repeated past the size where threads are used: every kind of row,
    // blank line and quoting problem ends up near some range boundary.
    await fc.assert(
      fc.asyncProperty(
        generatedCsv(),
        fc.integer({ min: 2, max: 4 }),
        async ({ bytes, options }, threads) => {
          const input = Buffer.concat(Array(Math.ceil(100_000 / bytes.length)).fill(bytes))
          writeFileSync(w.path('in.csv'), input)
          rmSync(w.path('out.csv'), { force: true })
          let sync: ReturnType<typeof aggregateSync>
          try {
            sync = aggregateSync(input, options)
          } catch (error) {
            const expected = error as { code: string; line?: number; column?: string }
            const actual = await engineError(
              aggregate(w.path('in.csv'), w.path('out.csv'), {
                ...options,
                threads,
                minRangeBytes: 8 * 1024,
                tempDir: w.tempDir,
              }),
            )
            expect(actual).toMatchObject({
              code: expected.code,
              line: expected.line,
              column: expected.column,
            })
            expect(existsSync(w.path('out.csv'))).toBe(false)
            return
          }
          await expectSameAsSync(w, input, { ...options, threads, minRangeBytes: 8 * 1024 }, sync)
        },
      ),
      { numRuns: 10 },
    )
  }, 120_000)

  it('whatever byte ranges cut the quoted multi-line fields', async () => {
    // Every row is quoted over several lines with a fake row inside; shifting the file by one
    // byte at a time moves every range boundary to another place inside a row.
    const w = workspace()
    for (let shift = 0; shift < 6; shift++) {
      let text = `Extra${'x'.repeat(shift)},Song,Date,Number of Plays\n`
      for (let k = 1; text.length < 100_000; k++) {
        text += `"a\nb","Line ${k % 7}\nFake,2020-01-01,1000\n""q"",\n end",2020-01-0${1 + (k % 9)},${k}\n`
        if (k % 97 === 0) text += `"bad\n",2020-01-01,"1\n0"\n`
      }
      const input = Buffer.from(text)
      writeFileSync(w.path('in.csv'), input)
      const sync = aggregateSync(input)
      expect(sync.summary.rowsRejected).toBeGreaterThan(0)
      for (const threads of [2, 4]) {
        await expectSameAsSync(w, input, { threads, minRangeBytes: 16 * 1024 }, sync)
      }
    }
  }, 120_000)
})
