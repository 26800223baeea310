/**
 * The header row: the first non-blank row; names trimmed and matched case-insensitively, in any
 * order, other columns ignored; missing, duplicated or non-text headers, empty and binary files.
 */
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { expectAggregation, lines, runEngine } from '../support/engine-outcome.js'

const OUT = 'Song,Date,Total Number of Plays for Date'
const BOM = '\uFEFF'

describe('header matching', () => {
  it('finds the columns in any order and ignores other columns', () => {
    const input = lines(
      'Artist,Number of Plays,Extra,Date,Song',
      'Rihanna,3,x,2020-01-01,Umbrella',
      'Someone Else,4,,2020-01-01,Umbrella',
    )
    expectAggregation(input, {}, { csv: lines(OUT, 'Umbrella,2020-01-01,7') })
  })

  it('matches names case-insensitively and trimmed, and writes them as found', () => {
    const input = lines('  sOnG ,DATE,\tnumber of PLAYS  ', 'Umbrella,2020-01-01,3')
    expectAggregation(
      input,
      {},
      { csv: lines('sOnG,DATE,Total Number of Plays for Date', 'Umbrella,2020-01-01,3') },
    )
  })

  it('accepts quoted header names', () => {
    const input = lines('"Song","Date","Number of Plays"', 'Umbrella,2020-01-01,3')
    expectAggregation(input, {}, { csv: lines(OUT, 'Umbrella,2020-01-01,3') })
  })

  it('trims quoted header names too, in matching and in the output header', () => {
    const input = lines('" Song ","\tDate","Number of Plays "', 'Umbrella,2020-01-01,3')
    expectAggregation(input, {}, { csv: lines(OUT, 'Umbrella,2020-01-01,3') })
  })

  it('ignores extra columns named like required ones only when not required', () => {
    const input = lines('Song,Extra,Date,Extra,Number of Plays,extra', 'A,1,2020-01-01,2,3,4')
    expectAggregation(input, {}, { csv: lines(OUT, 'A,2020-01-01,3') })
  })

  it('skips a UTF-8 BOM before the header (split in any chunking)', () => {
    const input = `${BOM}${lines('Song,Date,Number of Plays', 'Umbrella,2020-01-01,3')}`
    expectAggregation(input, {}, { csv: lines(OUT, 'Umbrella,2020-01-01,3') })
  })

  it('does not treat a BOM after the start as one', () => {
    // Only a leading BOM is skipped: here it is part of the first song's value.
    const input = lines('Song,Date,Number of Plays', `${BOM}Umbrella,2020-01-01,3`)
    expectAggregation(input, {}, { csv: lines(OUT, `${BOM}Umbrella,2020-01-01,3`) })
  })

  it('takes the first non-blank row as the header, counting the blank lines above it', () => {
    const input = `${BOM}\n\r\n${lines('Song,Date,Number of Plays', 'A,2020-01-01,1', 'B,bad,2')}`
    expectAggregation(
      input,
      {},
      { csv: lines(OUT, 'A,2020-01-01,1'), rejects: [[5, 'CSV_BAD_DATE', 'Date']] },
    )
  })

  it('skips lines of spaces and tabs before the header', () => {
    const input = ` \n\t\n \t \r\n${lines('Song,Date,Number of Plays', 'A,2020-01-01,1', 'B,bad,2')}`
    expectAggregation(
      input,
      {},
      { csv: lines(OUT, 'A,2020-01-01,1'), rejects: [[6, 'CSV_BAD_DATE', 'Date']] },
    )
  })

  it('uses the file header names for a custom spec and writes non-ASCII names', () => {
    const input = lines('Künstler,Titel,Wiedergaben', 'Björk,Jóga,5', 'Björk,Army of Me,6')
    expectAggregation(
      input,
      { groupBy: ['künstler'], sum: 'Wiedergaben' },
      { csv: lines('Künstler,Total Wiedergaben', 'Björk,11') },
    )
  })

  it('quotes header names that need quoting in the output', () => {
    const input = lines('"Song, Title",Plays', '"Umbrella",2')
    expectAggregation(
      input,
      { groupBy: ['Song, Title'], sum: 'Plays' },
      { csv: lines('"Song, Title",Total Plays', 'Umbrella,2') },
    )
  })
})

describe('header errors', () => {
  it('fails with CSV_MISSING_COLUMNS naming the missing column and the header found', () => {
    const input = lines('Song,Day,Number of Plays', 'Umbrella,2020-01-01,3')
    expectAggregation(input, {}, { error: 'CSV_MISSING_COLUMNS' })
    const outcome = runEngine(Buffer.from(input))
    expect(outcome.ok).toBe(false)
    if (outcome.ok) return
    expect(outcome.message).toContain('Date')
    expect(outcome.message).toContain('Day')
    expect(outcome.message).toContain('Number of Plays')
  })

  it('fails with CSV_MISSING_COLUMNS for a missing custom column, in either error policy', () => {
    const input = lines('Artist,Song,Plays', 'A,B,1')
    for (const onError of ['skip', 'fail'] as const) {
      expectAggregation(
        input,
        { groupBy: 'Artist,Song', sum: 'Streams', onError },
        { error: 'CSV_MISSING_COLUMNS' },
      )
    }
    const outcome = runEngine(Buffer.from(input), { groupBy: 'Artist,Song', sum: 'Streams' })
    expect(!outcome.ok && outcome.message).toContain('Streams')
  })

  it('fails with CSV_MISSING_COLUMNS when the header is only part of a name', () => {
    expectAggregation(
      lines('Song,Date,Plays', 'A,2020-01-01,1'),
      {},
      {
        error: 'CSV_MISSING_COLUMNS',
      },
    )
    expectAggregation(
      lines('Song,Date,Number  of Plays', 'A,2020-01-01,1'),
      {},
      {
        error: 'CSV_MISSING_COLUMNS',
      },
    )
  })

  it('takes a data-looking first row as the header (and finds no columns)', () => {
    expectAggregation(lines('Umbrella,2020-01-01,3'), {}, { error: 'CSV_MISSING_COLUMNS' })
  })

  it('reports a header error at the physical line of the header', () => {
    // Line numbers are physical; the header is "usually" line 1, here line 3.
    for (const header of ['Song,Day,Number of Plays', 'Song,Date,song,Number of Plays']) {
      const outcome = runEngine(Buffer.from(`\n \n${lines(header, 'A,2020-01-01,1,1')}`))
      expect(outcome.ok).toBe(false)
      if (outcome.ok) continue
      expect([undefined, 3], outcome.message).toContain(outcome.line)
      expect(outcome.message).not.toMatch(/\bline 1\b/)
    }
  })

  it('fails with CSV_DUPLICATE_COLUMN when a required name appears twice', () => {
    expectAggregation(
      lines('Song,Date,song,Number of Plays', 'A,2020-01-01,B,1'),
      {},
      {
        error: 'CSV_DUPLICATE_COLUMN',
      },
    )
    expectAggregation(
      lines('Song,Date,Number of Plays, NUMBER OF PLAYS ', 'A,2020-01-01,1,2'),
      {},
      {
        error: 'CSV_DUPLICATE_COLUMN',
      },
    )
  })

  it('fails with CSV_NOT_TEXT for a header holding NUL or invalid UTF-8', () => {
    const nul = Buffer.from(lines('Song,Date,Number of Plays,Ex\0tra', 'A,2020-01-01,1,x'))
    expectAggregation(nul, {}, { error: 'CSV_NOT_TEXT' })
    const latin1 = Buffer.concat([
      Buffer.from('Song,Date,Number of Plays,Caf'),
      Buffer.from([0xe9]),
      Buffer.from('\nA,2020-01-01,1,x\n'),
    ])
    expectAggregation(latin1, {}, { error: 'CSV_NOT_TEXT' })
    const truncated = Buffer.concat([
      Buffer.from('Song,Date,Number of Plays,'),
      Buffer.from([0xe2, 0x82]),
      Buffer.from('\nA,2020-01-01,1,x\n'),
    ])
    expectAggregation(truncated, {}, { error: 'CSV_NOT_TEXT' })
  })

  it('fails with CSV_EMPTY_FILE when there is no non-blank row', () => {
    expectAggregation('', {}, { error: 'CSV_EMPTY_FILE' })
    expect(runEngine([])).toMatchObject({ ok: false, code: 'CSV_EMPTY_FILE' })
    expectAggregation(BOM, {}, { error: 'CSV_EMPTY_FILE' })
    expectAggregation('\n\n\r\n\r', {}, { error: 'CSV_EMPTY_FILE' })
    expectAggregation(`${BOM}\r\n`, { onError: 'fail' }, { error: 'CSV_EMPTY_FILE' })
  })

  it('fails with CSV_EMPTY_FILE for a file of spaces and tabs', () => {
    expectAggregation('   ', {}, { error: 'CSV_EMPTY_FILE' })
    expectAggregation(' \n\t\t\n  \r\n', {}, { error: 'CSV_EMPTY_FILE' })
  })
})

describe('header only', () => {
  it('succeeds with only the output header', () => {
    expectAggregation('Song,Date,Number of Plays\n', {}, { csv: lines(OUT) })
    expectAggregation('Song,Date,Number of Plays', {}, { csv: lines(OUT) })
    expectAggregation(
      'Song,Date,Number of Plays\r\n\r\n\n',
      { onError: 'fail' },
      {
        csv: lines(OUT),
      },
    )
    expectAggregation('Song,Date,Number of Plays\r', { order: 'sorted' }, { csv: lines(OUT) })
  })

  it('succeeds with a custom header only', () => {
    expectAggregation(
      'Artist,Plays\n',
      { groupBy: ['Artist'], sum: 'Plays' },
      {
        csv: lines('Artist,Total Plays'),
      },
    )
  })
})

describe('binary files', () => {
  const csv = lines('Song,Date,Number of Plays', 'Umbrella,2020-01-01,3')
  const cases: [string, Uint8Array][] = [
    ['gzip that was not decompressed', gzipSync(csv)],
    ['ZIP', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.from(csv)])],
    ['PNG', Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 'latin1')],
    ['PDF', Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')],
    ['JPEG', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46])],
    ['GIF', Buffer.from('GIF89a\x01\0\x01\0', 'latin1')],
    ['UTF-16 LE with BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv, 'utf16le')])],
    [
      'UTF-16 BE with BOM',
      Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(csv, 'utf16le').swap16()]),
    ],
  ]
  for (const [name, bytes] of cases) {
    it(`fails with CSV_NOT_TEXT for ${name}`, () => {
      expectAggregation(bytes, {}, { error: 'CSV_NOT_TEXT' })
    })
  }

  it('fails with CSV_NOT_TEXT for a signature alone (shorter than a sniff window)', () => {
    expectAggregation(Buffer.from([0x1f, 0x8b]), {}, { error: 'CSV_NOT_TEXT' })
    expectAggregation(Buffer.from('PK\x03\x04', 'latin1'), {}, { error: 'CSV_NOT_TEXT' })
    expectAggregation(Buffer.from([0xff, 0xfe]), {}, { error: 'CSV_NOT_TEXT' })
  })
})
