/**
 * Chunk boundaries at scale: a megabyte of mixed rows cut around the engine's buffer sizes, and
 * rows far longer than a chunk (a 300 KB quoted song, a long bad row, a quote left open for a
 * megabyte), which must be carried from chunk to chunk without loss.
 */
import { describe, expect, it } from 'vitest'
import { chunksOf, randomChunks, seededRandom } from '../support/chunks.js'
import { compareWithReference, lines, runEngine } from '../support/engine-outcome.js'
import { largeCsv } from '../support/large-csv.js'

const HEADER = 'Song,Date,Number of Plays'
const OUT = 'Song,Date,Total Number of Plays for Date'

/** Chunk sizes around powers of two up to a few hundred KiB (typical buffer sizes). */
const SIZES = [100, 4095, 4096, 65535, 65536, 65537, 100_003, 262_143, 262_144, 262_145, 1 << 20]

describe('large inputs in large chunks', () => {
  it('gives the reference result, whole and cut at buffer-sized boundaries', () => {
    const input = largeCsv(5, 1_000_000)
    for (const options of [{}, { order: 'sorted' as const }]) {
      const whole = compareWithReference(input, options)
      expect(whole.engine).toEqual(whole.reference)
      const expected = runEngine(input, options)
      for (const size of SIZES) {
        expect(runEngine(chunksOf(input, size), options), `chunks of ${size}`).toEqual(expected)
      }
      const random = seededRandom(42)
      for (let round = 0; round < 3; round++) {
        const chunks = randomChunks(input, random, 300_000)
        expect(runEngine(chunks, options), `random chunks, round ${round}`).toEqual(expected)
      }
    }
  })
})

describe('rows longer than a chunk', () => {
  const longSong = `${'la "la"\n'.repeat(30_000)}end`
  const quotedLongSong = `"${longSong.replaceAll('"', '""')}"`

  it('carries a 300 KB quoted song across chunks', () => {
    const input = lines(
      HEADER,
      'A,2020-01-01,1',
      `${quotedLongSong},2020-01-01,2`,
      `${quotedLongSong},2020-01-01,3`,
      'B,2020-01-01,x',
    )
    const expected = {
      csv: lines(OUT, 'A,2020-01-01,1', `${quotedLongSong},2020-01-01,5`),
      rejects: [{ line: 60_005, code: 'CSV_BAD_NUMBER' }],
    }
    const bytes = Buffer.from(input)
    for (const size of [bytes.length, ...SIZES, 7777]) {
      const outcome = runEngine(chunksOf(bytes, size))
      expect(outcome.ok, `chunks of ${size}`).toBe(true)
      if (!outcome.ok) continue
      expect(outcome.csv === expected.csv, `chunks of ${size}: output`).toBe(true)
      expect(
        outcome.rejects.map(({ line, code }) => ({ line, code })),
        `chunks of ${size}`,
      ).toEqual(expected.rejects)
    }
  })

  it('keeps the raw bytes of a long rejected row, and the line numbers after it', () => {
    const input = lines(
      HEADER,
      `${quotedLongSong},2020-02-30,1`,
      'C,2020-01-01,x',
      'D,2020-01-01,4',
    )
    const bytes = Buffer.from(input)
    for (const size of [bytes.length, 1000, 65536, 262_145]) {
      const outcome = runEngine(chunksOf(bytes, size))
      expect(outcome.ok).toBe(true)
      if (!outcome.ok) continue
      expect(outcome.csv).toBe(lines(OUT, 'D,2020-01-01,4'))
      expect(outcome.rejects.map(({ line, code, column }) => [line, code, column])).toEqual([
        [2, 'CSV_BAD_DATE', 'Date'],
        [30_003, 'CSV_BAD_NUMBER', 'Number of Plays'],
      ])
      expect(outcome.rejects[0]!.raw === `${quotedLongSong},2020-02-30,1`).toBe(true)
    }
  })

  it('rejects a quote left open for a megabyte at the end of the input', () => {
    const tail = 'x,2020-01-01,1\n'.repeat(70_000)
    const input = `${lines(HEADER, 'A,2020-01-01,1')}B,2020-01-01,"${tail}`
    const bytes = Buffer.from(input)
    for (const size of [bytes.length, 65536, 262_144, 333_333]) {
      const outcome = runEngine(chunksOf(bytes, size))
      expect(outcome.ok).toBe(true)
      if (!outcome.ok) continue
      expect(outcome.csv).toBe(lines(OUT, 'A,2020-01-01,1'))
      expect(outcome.rejects.map(({ line, code, column }) => [line, code, column])).toEqual([
        [3, 'CSV_UNTERMINATED_QUOTE', 'Number of Plays'],
      ])
    }
  })

  it('reads a header and rows of many fields', () => {
    const extras = Array.from({ length: 150 }, (_, i) => `Extra ${i}`)
    const values = extras.map((_, i) => (i % 2 ? `"v,${i}"` : `v${i}`))
    const input = lines(
      [...extras.slice(0, 70), 'Number of Plays', ...extras.slice(70, 140), 'Song', 'Date'].join(
        ',',
      ),
      [...values.slice(0, 70), '1', ...values.slice(70, 140), 'A', '2020-01-01'].join(','),
      [...values.slice(0, 70), '2', ...values.slice(70, 140), 'A', '2020-01-01', 'more'].join(','),
      [...values.slice(0, 70), '4', ...values.slice(70, 140), 'A', '2020-01-01'].join(','),
      values.join(','),
    )
    const bytes = Buffer.from(input)
    for (const size of [bytes.length, 1, 13, 1000]) {
      const outcome = runEngine(chunksOf(bytes, size))
      expect(outcome.ok).toBe(true)
      if (!outcome.ok) continue
      expect(outcome.csv).toBe(lines(OUT, 'A,2020-01-01,5'))
      expect(outcome.rejects.map(({ line, code }) => [line, code])).toEqual([
        [3, 'CSV_FIELD_COUNT'],
        [5, 'CSV_FIELD_COUNT'],
      ])
    }
  })
})
