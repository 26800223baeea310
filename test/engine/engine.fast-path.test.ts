/**
 * The aggregator reads plain rows on a fast path (one pass: fields found, text hashed, date
 * parsed, count summed) and hands every other row to the general path. These inputs sit right
 * on the line between the two: a plain-looking row that is not plain must get exactly the
 * general path's (and the reference's) answer, in every chunking and in any column layout.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chunksOf } from '../support/chunks.js'
import { compareWithReference, runEngine, runInEveryChunking } from '../support/engine-outcome.js'

/** Values that look plain to a byte loop but are not, or only just are. */
const SONG_CASES = [
  'Plain Song',
  ' Leading Space',
  'Trailing Space ',
  '\tTab First',
  'Tab Last\t',
  'In Side Spaces',
  'Bang! #1 $&%()*+',
  'Ünïcödé ✨',
  '',
  ' ',
  'Nul\u0000Inside',
  'Lone\rCR',
  'Quote"Inside',
]
const DATE_CASES = [
  '2024-01-31',
  '2024-02-29',
  '2023-02-29',
  '2024-1-31',
  '2024-01-311',
  ' 2024-01-31',
  '2024-01-31 ',
  '2024/01/31',
  '',
]
const COUNT_CASES = [
  '0',
  '7',
  '007',
  '999999999999999',
  '1000000000000000',
  '9007199254740993',
  '123456789012345678901234',
  ' 5',
  '5 ',
  '+5',
  '-5',
  '5.0',
  '',
]
const EXTRA_CASES = ['x', '', ' spaced ', 'a"b', 'cr\rhere', 'ünï']

const LATIN1 = (text: string) => Buffer.from(text, 'utf8')

describe('fast path and general path agree', () => {
  it('on every song, date and count case, with CRLF and LF', () => {
    const rows: string[] = []
    for (const song of SONG_CASES) rows.push(`${song},2024-01-31,1`)
    for (const date of DATE_CASES) rows.push(`Plain Song,${date},2`)
    for (const count of COUNT_CASES) rows.push(`Plain Song,2024-01-31,${count}`)
    for (const lineEnd of ['\n', '\r\n']) {
      const input = `Song,Date,Number of Plays${lineEnd}${rows.join(lineEnd)}${lineEnd}`
      const { engine, reference } = compareWithReference(LATIN1(input), {})
      expect(engine).toEqual(reference)
      const outcome = runInEveryChunking(input, {}, 64)
      expect(outcome.ok).toBe(true)
    }
  })

  it('on rows with too many or too few fields, and a final row without a line end', () => {
    const input =
      'Song,Date,Number of Plays\nA,2024-01-01,1\nA,2024-01-01,1,\nA,2024-01-01\n,,\nA,2024-01-01,3'
    const outcome = runInEveryChunking(input)
    const { engine, reference } = compareWithReference(LATIN1(input), {})
    expect(engine).toEqual(reference)
    expect(outcome.ok && outcome.csv).toBe(
      'Song,Date,Total Number of Plays for Date\nA,2024-01-01,4\n',
    )
  })

  it('on bytes that are not UTF-8 in a song, whether new or already seen', () => {
    const bad = Buffer.from([0x42, 0xff, 0x43])
    const input = Buffer.concat([
      LATIN1('Song,Date,Number of Plays\nB,2024-01-01,1\n'),
      bad,
      LATIN1(',2024-01-01,2\n'),
      bad,
      LATIN1(',2024-01-02,3\nB,2024-01-01,4\n'),
    ])
    const { engine, reference } = compareWithReference(input, {})
    expect(engine).toEqual(reference)
    const outcome = runEngine(input)
    expect(outcome.ok && outcome.rejects.map((r) => [r.line, r.code])).toEqual([
      [3, 'CSV_BAD_TEXT'],
      [4, 'CSV_BAD_TEXT'],
    ])
  })

  it('on generated near-plain rows in any column order, with extra columns', () => {
    const field = (cases: string[]) => fc.constantFrom(...cases)
    const row = fc.record({
      song: field(SONG_CASES),
      date: field(DATE_CASES),
      count: field(COUNT_CASES),
      extra: field(EXTRA_CASES),
    })
    const layout = fc.shuffledSubarray(['Song', 'Date', 'Number of Plays', 'Extra'], {
      minLength: 4,
      maxLength: 4,
    })
    fc.assert(
      fc.property(
        layout,
        fc.array(row, { minLength: 1, maxLength: 40 }),
        fc.constantFrom('\n', '\r\n'),
        fc.constantFrom<'first_seen' | 'sorted'>('first_seen', 'sorted'),
        fc.integer({ min: 1, max: 17 }),
        (columns, rows, lineEnd, order, chunk) => {
          const value = (r: (typeof rows)[number], column: string) =>
            column === 'Song'
              ? r.song
              : column === 'Date'
                ? r.date
                : column === 'Number of Plays'
                  ? r.count
                  : r.extra
          const text =
            columns.join(',') +
            lineEnd +
            rows.map((r) => columns.map((c) => value(r, c)).join(',')).join(lineEnd) +
            lineEnd
          const bytes = LATIN1(text)
          const whole = compareWithReference(bytes, { order })
          expect(whole.engine).toEqual(whole.reference)
          const chunked = compareWithReference(bytes, { order }, chunksOf(bytes, chunk))
          expect(chunked.engine).toEqual(whole.engine)
        },
      ),
      { numRuns: 300 },
    )
  })
})
