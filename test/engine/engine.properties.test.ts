/**
 * Generated CSVs aggregated by the engine (whole, in random chunkings, one byte at a time) and
 * by the reference aggregator: the output text, the rejected rows (line, code, column, raw
 * bytes), the counts, or the fatal error must be the same.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chunksOf, splitAt } from '../support/chunks.js'
import { generatedCsv } from '../support/csv-arbitrary.js'
import { compareWithReference, runEngine } from '../support/engine-outcome.js'
import { referenceAggregate } from '../support/reference.js'

const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 })

function cutPoints(length: number, fractions: readonly number[]): number[] {
  return fractions.map((f) => Math.floor(f * length))
}

describe('engine vs reference on generated CSVs', () => {
  it('gives the reference result for the whole input', () => {
    fc.assert(
      fc.property(generatedCsv(), ({ bytes, options }) => {
        const { engine, reference } = compareWithReference(bytes, options)
        expect(engine).toEqual(reference)
      }),
      { numRuns: 300 },
    )
  })

  it('gives the reference result in random chunkings', () => {
    fc.assert(
      fc.property(generatedCsv(), cuts, ({ bytes, options }, fractions) => {
        const chunks = splitAt(bytes, cutPoints(bytes.length, fractions))
        const { engine, reference } = compareWithReference(bytes, options, chunks)
        expect(engine).toEqual(reference)
      }),
      { numRuns: 250 },
    )
  })

  it('gives the reference result one byte at a time and in small fixed chunks', () => {
    fc.assert(
      fc.property(generatedCsv(), fc.integer({ min: 2, max: 9 }), ({ bytes, options }, size) => {
        const byByte = compareWithReference(bytes, options, chunksOf(bytes, 1))
        expect(byByte.engine).toEqual(byByte.reference)
        const bySize = compareWithReference(bytes, options, chunksOf(bytes, size))
        expect(bySize.engine).toEqual(bySize.reference)
      }),
      { numRuns: 150 },
    )
  })

  it('gives the same engine result however the input is cut', () => {
    fc.assert(
      fc.property(generatedCsv(), cuts, ({ bytes, options }, fractions) => {
        const whole = runEngine(bytes, options)
        const chunked = runEngine(splitAt(bytes, cutPoints(bytes.length, fractions)), options)
        expect(chunked).toEqual(whole)
      }),
      { numRuns: 200 },
    )
  })

  it('accepts every header form: padding inside quoted names, blank lines of spaces first', () => {
    fc.assert(
      fc.property(
        generatedCsv({ padInsideQuotes: true, whitespaceLinesBeforeHeader: true }),
        cuts,
        ({ bytes, options }, fractions) => {
          const chunks = splitAt(bytes, cutPoints(bytes.length, fractions))
          const { engine, reference } = compareWithReference(bytes, options, chunks)
          expect(engine).toEqual(reference)
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('exact totals on generated counts', () => {
  const bigCount = fc.oneof(
    fc.bigInt(0n, 2n ** 53n + 100n),
    fc.bigInt(2n ** 53n - 100n, 2n ** 53n + 100n),
    fc.bigInt(0n, 10n ** 35n),
    fc.bigInt(0n, 10n),
  )

  it('sums counts near 2^53 and huge ones exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), bigCount, fc.nat(3)), { minLength: 1, maxLength: 40 }),
        cuts,
        (rows, fractions) => {
          const text =
            'Song,Date,Number of Plays\n' +
            rows.map(([s, n, zeros]) => `s${s},2020-01-01,${'0'.repeat(zeros)}${n}\n`).join('')
          const bytes = Buffer.from(text)
          const expected = new Map<string, bigint>()
          for (const [s, n] of rows) expected.set(`s${s}`, (expected.get(`s${s}`) ?? 0n) + n)
          const csv =
            'Song,Date,Total Number of Plays for Date\n' +
            [...expected].map(([s, total]) => `${s},2020-01-01,${total}\n`).join('')
          expect(referenceAggregate(bytes)).toMatchObject({ csv })
          const outcome = runEngine(splitAt(bytes, cutPoints(bytes.length, fractions)))
          expect(outcome.ok && outcome.csv).toBe(csv)
        },
      ),
      { numRuns: 300 },
    )
  })
})
