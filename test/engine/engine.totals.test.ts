/**
 * Totals are exact integers of any size: sums crossing 2^53 - 1, counts of 16 to 30+ digits,
 * leading zeros, and only accepted rows counted.
 */
import { describe, it } from 'vitest'
import { expectAggregation, lines } from '../support/engine-outcome.js'

const HEADER = 'Song,Date,Number of Plays'
const OUT = 'Song,Date,Total Number of Plays for Date'

function totals(counts: string[]): string {
  return lines(HEADER, ...counts.map((c) => `A,2020-01-01,${c}`))
}

describe('totals', () => {
  it('adds small counts', () => {
    expectAggregation(
      totals(['1', '2', '3', '0', '10']),
      {},
      { csv: lines(OUT, 'A,2020-01-01,16') },
    )
  })

  it('keeps 2^53 - 1 + 2^53 - 1 exact', () => {
    expectAggregation(
      totals(['9007199254740991', '9007199254740991']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,18014398509481982'),
      },
    )
  })

  it('keeps sums just past 2^53 exact (2^53 + 1 is not a double)', () => {
    expectAggregation(
      totals(['9007199254740990', '1', '1', '1']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,9007199254740993'),
      },
    )
    expectAggregation(
      totals(['9007199254740992', '1']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,9007199254740993'),
      },
    )
    expectAggregation(
      totals(['1', '9007199254740992']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,9007199254740993'),
      },
    )
    expectAggregation(
      totals(['9007199254740993', '9007199254740993', '9007199254740993']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,27021597764222979'),
      },
    )
  })

  it('writes a single count of 2^53 + 1 as written', () => {
    expectAggregation(
      totals(['9007199254740993']),
      {},
      { csv: lines(OUT, 'A,2020-01-01,9007199254740993') },
    )
  })

  it('adds 30-digit counts exactly', () => {
    expectAggregation(
      totals(['123456789012345678901234567890', '987654321098765432109876543210']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1111111110111111111011111111100'),
      },
    )
    expectAggregation(
      totals(['900000000000000000000000000000', '5', '900000000000000000000000000000']),
      {},
      { csv: lines(OUT, 'A,2020-01-01,1800000000000000000000000000005') },
    )
  })

  it('carries across digit boundaries (2^64, 10^20)', () => {
    expectAggregation(
      totals(['18446744073709551615', '1']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,18446744073709551616'),
      },
    )
    expectAggregation(
      totals(['99999999999999999999', '1']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,100000000000000000000'),
      },
    )
  })

  it('handles 15 and 16 digit counts around the fast path limit', () => {
    expectAggregation(
      totals(['999999999999999', '1']),
      {},
      { csv: lines(OUT, 'A,2020-01-01,1000000000000000') },
    )
    expectAggregation(
      totals(['1000000000000000', '1']),
      {},
      { csv: lines(OUT, 'A,2020-01-01,1000000000000001') },
    )
    expectAggregation(
      totals(['9999999999999999', '1']),
      {},
      { csv: lines(OUT, 'A,2020-01-01,10000000000000000') },
    )
    expectAggregation(
      totals(Array(10).fill('999999999999999')),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,9999999999999990'),
      },
    )
  })

  it('drops leading zeros of long counts', () => {
    expectAggregation(
      totals(['000000000000000000000000000042', '0000000000000000000000000000000']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,42'),
      },
    )
    expectAggregation(
      totals(['0000000000000000009007199254740993', '"00"']),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,9007199254740993'),
      },
    )
  })

  it('keeps big and small groups apart', () => {
    const input = lines(
      HEADER,
      'big,2020-01-01,9007199254740991',
      'small,2020-01-01,1',
      'big,2020-01-01,9007199254740991',
      'small,2020-01-01,2',
      'big,2020-01-02,123456789012345678901234567890',
      'big,2020-01-01,2',
    )
    const csv = lines(
      OUT,
      'big,2020-01-01,18014398509481984',
      'small,2020-01-01,3',
      'big,2020-01-02,123456789012345678901234567890',
    )
    expectAggregation(input, {}, { csv })
    expectAggregation(
      input,
      { order: 'sorted' },
      {
        csv: lines(
          OUT,
          'big,2020-01-01,18014398509481984',
          'big,2020-01-02,123456789012345678901234567890',
          'small,2020-01-01,3',
        ),
      },
    )
    expectAggregation(input, { onError: 'fail' }, { csv })
  })

  it('counts only accepted rows, including huge rejected ones', () => {
    const input = lines(
      HEADER,
      'A,2020-01-01,9007199254740991',
      'A,2020-01-01,-9007199254740991',
      'A,x,9007199254740991',
      'A,2020-01-01,99999999999999999999999999999.0',
      'A,2020-01-01,1',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,9007199254740992'),
        rejects: [
          [3, 'CSV_BAD_NUMBER', 'Number of Plays'],
          [4, 'CSV_BAD_DATE', 'Date'],
          [5, 'CSV_BAD_NUMBER', 'Number of Plays'],
        ],
      },
    )
  })

  it('sums a custom column with big totals', () => {
    const input = lines(
      'Artist,Streams,Song',
      'X,9007199254740991,a',
      'Y,1,b',
      'X,9007199254740991,c',
    )
    expectAggregation(
      input,
      { groupBy: ['Artist'], sum: 'Streams' },
      {
        csv: lines('Artist,Total Streams', 'X,18014398509481982', 'Y,1'),
      },
    )
  })

  it('sums many rows without losing any', () => {
    const rows = Array.from({ length: 300 }, (_, i) => `s${i % 7},2020-01-0${(i % 3) + 1},${i}`)
    // Sum of i over 0..299 with i ≡ r (mod 21): computed per group below by hand-checkable rule.
    const expected = new Map<string, number>()
    for (let i = 0; i < 300; i++) {
      const key = `s${i % 7},2020-01-0${(i % 3) + 1}`
      expected.set(key, (expected.get(key) ?? 0) + i)
    }
    expectAggregation(
      lines(HEADER, ...rows),
      {},
      {
        csv: lines(OUT, ...[...expected].map(([k, v]) => `${k},${v}`)),
      },
    )
  })
})
