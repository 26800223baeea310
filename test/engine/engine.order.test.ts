/**
 * Output row order: `first_seen` (default) is the order of each group's first accepted row;
 * `sorted` is by the first group column's UTF-8 bytes, then the next (dates sort as text).
 */
import { describe, it } from 'vitest'
import { expectAggregation, lines } from '../support/engine-outcome.js'

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

describe('order=first_seen', () => {
  it('gives the DESIGN.md example output', () => {
    const expected = lines(
      OUT,
      'Umbrella,2020-01-02,250',
      'Umbrella,2020-01-01,150',
      'In The End,2020-01-01,1500',
      'In The End,2020-01-02,500',
    )
    expectAggregation(designExample, {}, { csv: expected })
    expectAggregation(designExample, { order: 'first_seen' }, { csv: expected })
    expectAggregation(designExample, { order: 'first_seen', onError: 'fail' }, { csv: expected })
  })

  it('places a group by its first accepted row, not its first rejected one', () => {
    const input = lines(
      HEADER,
      'B,2020-01-01,x',
      'A,2020-01-01,1',
      'B,2020-01-01,2',
      'C,2020-13-01,3',
      'D,2020-01-01,4',
      'C,2020-01-01,5',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1', 'B,2020-01-01,2', 'D,2020-01-01,4', 'C,2020-01-01,5'),
        rejects: [
          [2, 'CSV_BAD_NUMBER', 'Number of Plays'],
          [5, 'CSV_BAD_DATE', 'Date'],
        ],
      },
    )
  })

  it('keeps first-seen order across blank lines, quoted rows and CRLF', () => {
    const input =
      'Song,Date,Number of Plays\r\n\r\n"Zed",2021-05-05,1\r\n  \r\nAlpha,2021-05-05,2\r\n' +
      '"Multi\nLine",2021-05-05,3\r\nZed,2021-05-05,4\r\n'
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'Zed,2021-05-05,5', 'Alpha,2021-05-05,2', '"Multi\nLine",2021-05-05,3'),
      },
    )
  })

  it('keeps many groups in first-seen order', () => {
    const songs = ['m', 'b', 'z', 'a', 'q', 'c', 'y', 'd']
    const rows = songs.map((s, i) => `${s},2020-01-0${(i % 9) + 1},${i}`)
    const input = lines(HEADER, ...rows, ...rows)
    expectAggregation(
      input,
      { order: 'first_seen' },
      { csv: lines(OUT, ...songs.map((s, i) => `${s},2020-01-0${(i % 9) + 1},${2 * i}`)) },
    )
  })
})

describe('order=sorted', () => {
  it('sorts the DESIGN.md example by song, then date', () => {
    expectAggregation(
      designExample,
      { order: 'sorted' },
      {
        csv: lines(
          OUT,
          'In The End,2020-01-01,1500',
          'In The End,2020-01-02,500',
          'Umbrella,2020-01-01,150',
          'Umbrella,2020-01-02,250',
        ),
      },
    )
  })

  it('sorts by bytes: case-sensitive, prefixes first, UTF-8 byte order (not UTF-16)', () => {
    // Byte order: '"' (22) < 'A' (41) < 'B' < 'Um..' < 'a' (61) < 'é' (C3 A9) < 'Ａ' (EF BC A1)
    // < '😀' (F0 9F 98 80). UTF-16 order would put '😀' (D83D) before 'Ａ' (FF21).
    const input = lines(
      HEADER,
      '😀,2020-01-01,1',
      'Ａ,2020-01-01,2',
      'é,2020-01-01,3',
      'a,2020-01-01,4',
      'Umbrellas,2020-01-01,5',
      'Umbrella 2,2020-01-01,6',
      'Umbrella,2020-01-01,7',
      'B,2020-01-01,8',
      'A,2020-01-01,9',
      '"""Quoted""",2020-01-01,10',
      '"Comma, Song",2020-01-01,11',
    )
    expectAggregation(
      input,
      { order: 'sorted' },
      {
        csv: lines(
          OUT,
          '"""Quoted""",2020-01-01,10',
          'A,2020-01-01,9',
          'B,2020-01-01,8',
          '"Comma, Song",2020-01-01,11',
          'Umbrella,2020-01-01,7',
          'Umbrella 2,2020-01-01,6',
          'Umbrellas,2020-01-01,5',
          'a,2020-01-01,4',
          'é,2020-01-01,3',
          'Ａ,2020-01-01,2',
          '😀,2020-01-01,1',
        ),
      },
    )
  })

  it('sorts by the unescaped value, not by how it was written', () => {
    // ' x' (quoted, leading space 0x20) sorts before '!x' (0x21) and 'x'.
    const input = lines(HEADER, 'x,2020-01-01,1', '!x,2020-01-01,2', '" x",2020-01-01,3')
    expectAggregation(
      input,
      { order: 'sorted' },
      { csv: lines(OUT, '" x",2020-01-01,3', '!x,2020-01-01,2', 'x,2020-01-01,1') },
    )
  })

  it('sorts dates as text within a song, the first column first', () => {
    const input = lines(
      HEADER,
      'b,2020-12-01,1',
      'a,2021-01-01,1',
      'b,2020-02-01,1',
      'a,0999-01-01,1',
      'b,2020-01-31,1',
      'a,9999-12-31,1',
    )
    expectAggregation(
      input,
      { order: 'sorted' },
      {
        csv: lines(
          OUT,
          'a,0999-01-01,1',
          'a,2021-01-01,1',
          'a,9999-12-31,1',
          'b,2020-01-31,1',
          'b,2020-02-01,1',
          'b,2020-12-01,1',
        ),
      },
    )
  })

  it('sorts by the group columns in spec order (date first when asked)', () => {
    const input = lines(
      'Number of Plays,Song,Date',
      '1,b,2020-01-02',
      '2,a,2020-01-02',
      '3,c,2020-01-01',
      '4,a,2020-01-01',
    )
    expectAggregation(
      input,
      { order: 'sorted', groupBy: ['Date', 'Song'] },
      {
        csv: lines(
          'Date,Song,Total Number of Plays',
          '2020-01-01,a,4',
          '2020-01-01,c,3',
          '2020-01-02,a,2',
          '2020-01-02,b,1',
        ),
      },
    )
  })

  it('sorts three group columns', () => {
    const input = lines(
      'Artist,Song,Date,Plays',
      'Rihanna,Umbrella,2020-01-02,1',
      'Linkin Park,In The End,2020-01-01,2',
      'Rihanna,Umbrella,2020-01-01,3',
      'Rihanna,Diamonds,2020-01-01,4',
      'Linkin Park,In The End,2020-01-01,5',
    )
    expectAggregation(
      input,
      { order: 'sorted', groupBy: ['Artist', 'Song', 'Date'], sum: 'Plays' },
      {
        csv: lines(
          'Artist,Song,Date,Total Plays',
          'Linkin Park,In The End,2020-01-01,7',
          'Rihanna,Diamonds,2020-01-01,4',
          'Rihanna,Umbrella,2020-01-01,3',
          'Rihanna,Umbrella,2020-01-02,1',
        ),
      },
    )
    expectAggregation(
      input,
      { order: 'first_seen', groupBy: ['Artist', 'Song', 'Date'], sum: 'Plays' },
      {
        csv: lines(
          'Artist,Song,Date,Total Plays',
          'Rihanna,Umbrella,2020-01-02,1',
          'Linkin Park,In The End,2020-01-01,7',
          'Rihanna,Umbrella,2020-01-01,3',
          'Rihanna,Diamonds,2020-01-01,4',
        ),
      },
    )
  })

  it('gives the same sorted output with onError=fail when no row is bad', () => {
    expectAggregation(
      lines(HEADER, 'b,2020-01-01,1', 'a,2020-01-01,2'),
      { order: 'sorted', onError: 'fail' },
      { csv: lines(OUT, 'a,2020-01-01,2', 'b,2020-01-01,1') },
    )
  })
})
