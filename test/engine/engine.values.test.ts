/**
 * Field values: calendar dates, counts, empty group values, text that is not UTF-8, group
 * identity, custom group and sum columns, and which check wins when a row has several problems.
 */
import { describe, it } from 'vitest'
import { expectAggregation, lines } from '../support/engine-outcome.js'

const HEADER = 'Song,Date,Number of Plays'
const OUT = 'Song,Date,Total Number of Plays for Date'

function rowsWithDates(dates: string[]): string {
  return lines(HEADER, ...dates.map((d, i) => `s${i},${d},1`))
}

describe('dates', () => {
  it('accepts real calendar dates YYYY-MM-DD, years 0000 to 9999, leap days included', () => {
    const dates = [
      '2020-02-29',
      '2000-02-29',
      '2400-02-29',
      '0000-02-29',
      '0000-01-01',
      '0004-02-29',
      '9999-12-31',
      '1999-12-31',
      '2021-04-30',
      '2021-01-31',
      '2021-03-31',
      '2021-05-31',
      '2021-06-30',
      '2021-07-31',
      '2021-08-31',
      '2021-09-30',
      '2021-10-31',
      '2021-11-30',
      '2021-12-31',
      '2021-02-28',
    ]
    expectAggregation(
      rowsWithDates(dates),
      {},
      {
        csv: lines(OUT, ...dates.map((d, i) => `s${i},${d},1`)),
      },
    )
  })

  it('rejects anything else with CSV_BAD_DATE', () => {
    const bad = [
      '2019-02-29',
      '1900-02-29',
      '2100-02-29',
      '0100-02-29',
      '2020-13-01',
      '2020-00-10',
      '2020-01-00',
      '2020-01-32',
      '2020-04-31',
      '2020-06-31',
      '2020-09-31',
      '2020-11-31',
      '2020-02-30',
      '2020-1-01',
      '2020-01-1',
      '20-01-01',
      '12020-01-01',
      '2020/01/01',
      '2020.01.01',
      '20200101',
      '2020-01-01T00:00',
      '2020-01-01 00:00',
      '01-01-2020',
      '+020-01-01',
      '-020-01-01',
      '２０２０-01-01',
      '2020-01-0a',
      'abcd-ef-gh',
      '""',
      '"2020-01-01 "',
      '" 2020-01-01"',
      '"2020-01-01"""',
      '',
      '   ',
    ]
    const input = lines(HEADER, 'ok,2020-01-01,1', ...bad.map((d, i) => `s${i},${d},1`))
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'ok,2020-01-01,1'),
        rejects: bad.map((_, i) => [i + 3, 'CSV_BAD_DATE', 'Date']),
      },
    )
  })

  it('trims unquoted dates and accepts quoted ones', () => {
    const input = lines(HEADER, 'A, \t2020-01-01\t ,1', 'A,"2020-01-01",2')
    expectAggregation(input, {}, { csv: lines(OUT, 'A,2020-01-01,3') })
  })

  it('validates any group column named Date, in any case, and no other', () => {
    const input = lines('Song,dAtE,When,Plays', 'A,2020-01-01,yesterday,1', 'B,2020-02-30,x,1')
    expectAggregation(
      input,
      { groupBy: ['Song', 'DATE', 'When'], sum: 'Plays' },
      {
        csv: lines('Song,dAtE,When,Total Plays', 'A,2020-01-01,yesterday,1'),
        rejects: [[3, 'CSV_BAD_DATE', 'dAtE']],
      },
    )
  })

  it('does not validate a Date column that is not grouped by', () => {
    const input = lines(HEADER, 'A,not a date,1', 'A,,2')
    expectAggregation(
      input,
      { groupBy: ['Song'] },
      {
        csv: lines('Song,Total Number of Plays', 'A,3'),
      },
    )
  })
})

describe('counts', () => {
  it('accepts digits with leading zeros, trimmed when unquoted, and quoted', () => {
    const input = lines(
      HEADER,
      'A,2020-01-01,0',
      'A,2020-01-01,007',
      'A,2020-01-01, 10 ',
      'A,2020-01-01,\t20\t',
      'A,2020-01-01,"3"',
      'A,2020-01-01,"0000000000000000000000000000000000000000000000000000000000000000001"',
      'B,2020-01-01,000',
    )
    expectAggregation(input, {}, { csv: lines(OUT, 'A,2020-01-01,41', 'B,2020-01-01,0') })
  })

  it('rejects everything else with CSV_BAD_NUMBER', () => {
    const bad = [
      '-1',
      '+1',
      '-0',
      '1.0',
      '1.',
      '.5',
      '1e3',
      '1E3',
      '"1,000"',
      '1_000',
      '1 000',
      '" 5"',
      '"5 "',
      '"\t5"',
      '""',
      '" "',
      '',
      '  ',
      '0x10',
      'ten',
      '١٢',
      '５',
      'NaN',
      'Infinity',
      '12a',
      '"1""2"',
    ]
    const input = lines(HEADER, 'ok,2020-01-01,1', ...bad.map((n, i) => `s${i},2020-01-01,${n}`))
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'ok,2020-01-01,1'),
        rejects: bad.map((_, i) => [i + 3, 'CSV_BAD_NUMBER', 'Number of Plays']),
      },
    )
  })
})

describe('empty values', () => {
  it('rejects an empty text group value with CSV_EMPTY_VALUE, a quoted "" too', () => {
    const input = lines(
      HEADER,
      ',2020-01-01,1',
      '   ,2020-01-01,1',
      '"",2020-01-01,1',
      '\t,2020-01-01,1',
      'A,2020-01-01,1',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [
          [2, 'CSV_EMPTY_VALUE', 'Song'],
          [3, 'CSV_EMPTY_VALUE', 'Song'],
          [4, 'CSV_EMPTY_VALUE', 'Song'],
          [5, 'CSV_EMPTY_VALUE', 'Song'],
        ],
      },
    )
  })

  it('does not check ignored columns', () => {
    const input = lines('Extra,Song,Date,Number of Plays', ',A,2020-01-01,1', '"",A,2020-01-01,2')
    expectAggregation(input, {}, { csv: lines(OUT, 'A,2020-01-01,3') })
  })
})

describe('text', () => {
  it('keeps non-ASCII values exactly (split in every chunking)', () => {
    const input = lines(
      HEADER,
      'Café,2020-01-01,1',
      'Cafe\u0301,2020-01-01,2',
      '東京,2020-01-01,3',
      '👩‍👩‍👧,2020-01-01,4',
      'Café,2020-01-01,5',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(
          OUT,
          'Café,2020-01-01,6',
          'Cafe\u0301,2020-01-01,2',
          '東京,2020-01-01,3',
          '👩‍👩‍👧,2020-01-01,4',
        ),
      },
    )
  })

  it('treats values case-sensitively', () => {
    const input = lines(
      HEADER,
      'umbrella,2020-01-01,1',
      'Umbrella,2020-01-01,2',
      'UMBRELLA,2020-01-01,3',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'umbrella,2020-01-01,1', 'Umbrella,2020-01-01,2', 'UMBRELLA,2020-01-01,3'),
      },
    )
  })

  it('rejects group values with NUL or invalid UTF-8 with CSV_BAD_TEXT', () => {
    const good = Buffer.from(lines(HEADER, 'A,2020-01-01,1'))
    const bad = [
      Buffer.from('N\0L'),
      Buffer.from([0x41, 0xff, 0x42]),
      Buffer.from([0x43, 0x61, 0x66, 0xe9]), // Latin-1 "Café"
      Buffer.from([0xe2, 0x82]), // truncated 3-byte sequence
      Buffer.from([0xc0, 0xaf]), // overlong "/"
      Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
      Buffer.from([0x80]),
      Buffer.concat([Buffer.from('"'), Buffer.from([0xfe]), Buffer.from('"')]),
    ]
    const input = Buffer.concat([
      good,
      ...bad.map((value) => Buffer.concat([value, Buffer.from(',2020-01-01,1\n')])),
      Buffer.from('A\0,2020-01-01,1\n'),
    ])
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [...bad, 'A\0'].map((_, i) => [i + 3, 'CSV_BAD_TEXT', 'Song']),
      },
    )
  })

  it('accepts NUL and invalid UTF-8 in ignored columns', () => {
    const input = Buffer.concat([
      Buffer.from(lines('Song,Date,Extra,Number of Plays')),
      Buffer.from('A,2020-01-01,\0'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(',1\n'),
    ])
    expectAggregation(input, {}, { csv: lines(OUT, 'A,2020-01-01,1') })
  })

  it('rejects a repeated bad value every time, and a good value after it is counted', () => {
    const input = Buffer.concat([
      Buffer.from(lines(HEADER)),
      Buffer.from([0xff]),
      Buffer.from(',2020-01-01,1\n'),
      Buffer.from([0xff]),
      Buffer.from(',2020-01-01,1\nB,2020-01-01,2\n'),
    ])
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'B,2020-01-01,2'),
        rejects: [
          [2, 'CSV_BAD_TEXT', 'Song'],
          [3, 'CSV_BAD_TEXT', 'Song'],
        ],
      },
    )
  })
})

describe('custom group and sum columns', () => {
  it('groups by one column given as a string and sums another', () => {
    const input = lines(
      'Artist,Song,Streams',
      'Rihanna,Umbrella,5',
      'Rihanna,Diamonds,6',
      'Linkin Park,In The End,7',
    )
    expectAggregation(
      input,
      { groupBy: 'Artist', sum: 'Streams' },
      {
        csv: lines('Artist,Total Streams', 'Rihanna,11', 'Linkin Park,7'),
      },
    )
  })

  it('accepts group_by as a comma-separated string with spaces and any case', () => {
    const input = lines('Artist,Song,Streams', 'Rihanna,Umbrella,5', 'Rihanna,Umbrella,6')
    expectAggregation(
      input,
      { groupBy: ' artist , SONG ', sum: ' Streams ', order: 'sorted' },
      {
        csv: lines('Artist,Song,Total Streams', 'Rihanna,Umbrella,11'),
      },
    )
  })

  it('checks the number of the custom sum column, not Number of Plays', () => {
    const input = lines('Song,Date,Number of Plays,Skips', 'A,2020-01-01,x,1', 'A,2020-01-01,1,y')
    expectAggregation(
      input,
      { sum: 'Skips' },
      {
        csv: lines('Song,Date,Total Skips', 'A,2020-01-01,1'),
        rejects: [[3, 'CSV_BAD_NUMBER', 'Skips']],
      },
    )
  })

  it('is the default output header when the spec names the default columns', () => {
    const input = lines(HEADER, 'A,2020-01-01,1')
    expectAggregation(
      input,
      { groupBy: ['SONG', 'date'], sum: 'NUMBER OF PLAYS' },
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
      },
    )
  })

  it('groups by song alone', () => {
    const input = lines(HEADER, 'A,2020-01-01,1', 'A,2020-01-02,2', 'B,2020-01-01,3')
    expectAggregation(
      input,
      { groupBy: ['Song'] },
      {
        csv: lines('Song,Total Number of Plays', 'A,3', 'B,3'),
      },
    )
  })
})

describe('check order (the first failure wins)', () => {
  it('checks the field count first', () => {
    const input = lines(HEADER, 'A"x,2020-13-01', ',bad,x,extra', 'ok,2020-01-01,1')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'ok,2020-01-01,1'),
        rejects: [
          [2, 'CSV_FIELD_COUNT'],
          [3, 'CSV_FIELD_COUNT'],
        ],
      },
    )
  })

  it('checks quoting and line ends before values', () => {
    const input = lines(HEADER, ',2020-13-01,1"', '"",bad,"x"y', ',\r,x', 'ok,2020-01-01,1')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'ok,2020-01-01,1'),
        rejects: [
          [2, 'CSV_BAD_QUOTE', 'Number of Plays'],
          [3, 'CSV_BAD_QUOTE', 'Number of Plays'],
          [4, 'CSV_BAD_LINE_END', 'Date'],
        ],
      },
    )
  })

  it('checks group columns in spec order, then the sum, then text', () => {
    const bytes = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))))
    const input = bytes(
      lines(HEADER),
      ',2020-13-01,x\n', // empty song before bad date
      'A,2020-13-01,x\n', // bad date before bad number
      [0xff],
      ',2020-01-01,x\n', // bad number before bad text
      [0xff],
      ',2020-13-01,1\n', // bad date before bad text
      'ok,2020-01-01,1\n',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'ok,2020-01-01,1'),
        rejects: [
          [2, 'CSV_EMPTY_VALUE', 'Song'],
          [3, 'CSV_BAD_DATE', 'Date'],
          [4, 'CSV_BAD_NUMBER', 'Number of Plays'],
          [5, 'CSV_BAD_DATE', 'Date'],
        ],
      },
    )
    expectAggregation(
      input,
      { groupBy: ['Date', 'Song'] },
      {
        csv: lines('Date,Song,Total Number of Plays', '2020-01-01,ok,1'),
        rejects: [
          [2, 'CSV_BAD_DATE', 'Date'],
          [3, 'CSV_BAD_DATE', 'Date'],
          [4, 'CSV_BAD_NUMBER', 'Number of Plays'],
          [5, 'CSV_BAD_DATE', 'Date'],
        ],
      },
    )
  })

  it('checks emptiness of every group column before text, and text in spec order', () => {
    const input = Buffer.concat([
      Buffer.from(lines('Artist,Song,Plays')),
      Buffer.from([0xff]),
      Buffer.from(',,1\n'), // bad text in Artist, empty Song: empty wins
      Buffer.from('A,'),
      Buffer.from([0xff]),
      Buffer.from(',1\n'), // bad text in Song
      Buffer.from([0xfe]),
      Buffer.from(','),
      Buffer.from([0xff]),
      Buffer.from(',1\n'), // both bad: Artist first
      Buffer.from('A,B,1\n'),
    ])
    expectAggregation(
      input,
      { groupBy: ['Artist', 'Song'], sum: 'Plays' },
      {
        csv: lines('Artist,Song,Total Plays', 'A,B,1'),
        rejects: [
          [2, 'CSV_EMPTY_VALUE', 'Song'],
          [3, 'CSV_BAD_TEXT', 'Song'],
          [4, 'CSV_BAD_TEXT', 'Artist'],
        ],
      },
    )
    expectAggregation(
      input,
      { groupBy: ['Song', 'Artist'], sum: 'Plays' },
      {
        csv: lines('Song,Artist,Total Plays', 'B,A,1'),
        rejects: [
          [2, 'CSV_EMPTY_VALUE', 'Song'],
          [3, 'CSV_BAD_TEXT', 'Song'],
          [4, 'CSV_BAD_TEXT', 'Song'],
        ],
      },
    )
  })
})
