/**
 * Error policies: `onError=fail` throws the first bad row's EngineError (code, line, column);
 * `onError=skip` leaves bad rows out, counts them and lists them in the rejects CSV. A file
 * whose data rows are all bad fails with CSV_NO_VALID_ROWS.
 */
import { describe, expect, it } from 'vitest'
import { aggregateSync, EngineError, isEngineError } from '../../src/engine/index.js'
import {
  expectAggregation,
  lines,
  runEngine,
  runInEveryChunking,
} from '../support/engine-outcome.js'
import { parseCsv } from '../support/parse-csv.js'

const HEADER = 'Song,Date,Number of Plays'
const OUT = 'Song,Date,Total Number of Plays for Date'

function thrown(run: () => unknown): EngineError {
  try {
    run()
  } catch (error) {
    expect(isEngineError(error), String(error)).toBe(true)
    expect(error).toBeInstanceOf(EngineError)
    return error as EngineError
  }
  throw new Error('expected an EngineError, nothing was thrown')
}

describe('onError=fail', () => {
  const input = lines(
    HEADER,
    'A,2020-01-01,1',
    '"multi\nline",2020-01-01,2',
    'B,2020-02-30,3',
    'C,2020-01-01,x',
  )

  it('throws the first bad row with its code, physical line and column', () => {
    const error = thrown(() => aggregateSync(Buffer.from(input), { onError: 'fail' }))
    expect(error.code).toBe('CSV_BAD_DATE')
    expect(error.line).toBe(5)
    expect(error.column).toBe('Date')
    expect(error.message).toContain('5')
    expect(error.message).toContain('Date')
    expectAggregation(
      input,
      { onError: 'fail' },
      { error: 'CSV_BAD_DATE', line: 5, column: 'Date' },
    )
  })

  it('gives no column for a field-count error', () => {
    const error = thrown(() =>
      aggregateSync(Buffer.from(lines(HEADER, 'A,2020-01-01,1', 'B,2020-01-01')), {
        onError: 'fail',
      }),
    )
    expect(error.code).toBe('CSV_FIELD_COUNT')
    expect(error.line).toBe(3)
    expect(error.column).toBeUndefined()
    expectAggregation(
      lines(HEADER, 'A,2020-01-01,1', 'B,2020-01-01,1,1'),
      { onError: 'fail' },
      {
        error: 'CSV_FIELD_COUNT',
        line: 3,
        column: undefined,
      },
    )
  })

  it('names the column as written in the header', () => {
    const input = lines(' song ,DATE,number of plays', 'A,2020-01-01,1', '"",2020-01-01,1')
    expectAggregation(
      input,
      { onError: 'fail' },
      { error: 'CSV_EMPTY_VALUE', line: 3, column: 'song' },
    )
    const input2 = lines('Song,Date,PLAYS', 'A,2020-01-01,"1"x')
    expectAggregation(
      input2,
      { onError: 'fail', sum: 'plays', groupBy: 'song,date' },
      {
        error: 'CSV_BAD_QUOTE',
        line: 2,
        column: 'PLAYS',
      },
    )
  })

  it('throws each kind of row error', () => {
    const cases: [string, string, number, string | undefined][] = [
      ['A,2020-01-01', 'CSV_FIELD_COUNT', 2, undefined],
      [',2020-01-01,1', 'CSV_EMPTY_VALUE', 2, 'Song'],
      ['A,2020-1-1,1', 'CSV_BAD_DATE', 2, 'Date'],
      ['A,2020-01-01,1.5', 'CSV_BAD_NUMBER', 2, 'Number of Plays'],
      ['A",2020-01-01,1', 'CSV_BAD_QUOTE', 2, 'Song'],
      ['A,2020-01-01,"1', 'CSV_UNTERMINATED_QUOTE', 2, 'Number of Plays'],
      ['A\r,2020-01-01,1', 'CSV_BAD_LINE_END', 2, 'Song'],
      ['A\0,2020-01-01,1', 'CSV_BAD_TEXT', 2, 'Song'],
    ]
    for (const [row, code, line, column] of cases) {
      expectAggregation(lines(HEADER, row), { onError: 'fail' }, { error: code, line, column })
    }
  })

  it('gives the same output as skip when no row is bad', () => {
    const good = lines(HEADER, 'A,2020-01-01,1', '"B, b",2020-01-01,2', 'A,2020-01-01,3')
    const csv = lines(OUT, 'A,2020-01-01,4', '"B, b",2020-01-01,2')
    expectAggregation(good, { onError: 'fail' }, { csv })
    expectAggregation(good, { onError: 'skip' }, { csv })
  })

  it('throws the row error, not CSV_NO_VALID_ROWS, when every row is bad', () => {
    expectAggregation(
      lines(HEADER, 'A,x,1', 'B,y,1'),
      { onError: 'fail' },
      {
        error: 'CSV_BAD_DATE',
        line: 2,
        column: 'Date',
      },
    )
  })
})

describe('onError=skip', () => {
  it('is the default', () => {
    expectAggregation(
      lines(HEADER, 'A,2020-01-01,1', 'B,x,1'),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [[3, 'CSV_BAD_DATE', 'Date']],
      },
    )
  })

  it('writes the rejects CSV: line, code, column, reason and the raw row', () => {
    const input =
      'Song,Date,Number of Plays\r\n' +
      'A,2020-01-01,1\r\n' +
      'Umb"rella,2020-01-01,1\r\n' +
      '  padded,bad,1  \r\n' +
      '"multi\nline",2020-01-01,-1\n' +
      'x,2020-01-01\n' +
      'Crème,2020-01-01,"2"x\n' +
      'lone\rcr,2020-01-01,1\n' +
      '\ttab,2020-13-01,1\n' +
      'last,2020-01-01,"9'
    const outcome = runInEveryChunking(input)
    expect(outcome.ok).toBe(true)
    if (!outcome.ok) return
    expect(outcome.csv).toBe(lines(OUT, 'A,2020-01-01,1'))
    const rows = parseCsv(outcome.rejectsCsv)
    expect(rows[0]).toEqual(['Line', 'Code', 'Column', 'Reason', 'Raw Row'])
    const withoutReason = rows
      .slice(1)
      .map(([line, code, column, , raw]) => [line, code, column, raw])
    expect(withoutReason).toEqual([
      ['3', 'CSV_BAD_QUOTE', 'Song', 'Umb"rella,2020-01-01,1'],
      ['4', 'CSV_BAD_DATE', 'Date', '  padded,bad,1  '],
      ['5', 'CSV_BAD_NUMBER', 'Number of Plays', '"multi\nline",2020-01-01,-1'],
      ['7', 'CSV_FIELD_COUNT', '', 'x,2020-01-01'],
      ['8', 'CSV_BAD_QUOTE', 'Number of Plays', 'Crème,2020-01-01,"2"x'],
      ['9', 'CSV_BAD_LINE_END', 'Song', 'lone\rcr,2020-01-01,1'],
      ['10', 'CSV_BAD_DATE', 'Date', '\ttab,2020-13-01,1'],
      ['11', 'CSV_UNTERMINATED_QUOTE', 'Number of Plays', 'last,2020-01-01,"9'],
    ])
    for (const row of rows.slice(1)) {
      expect(row).toHaveLength(5)
      expect(row[3]!.length).toBeGreaterThan(0)
    }
    // Raw rows are quoted as needed, with quotes doubled.
    expect(outcome.rejectsCsv).toContain(',"Umb""rella,2020-01-01,1"\n')
    expect(outcome.rejectsCsv).toContain(',"  padded,bad,1  "\n')
    expect(outcome.rejectsCsv).toContain(',"lone\rcr,2020-01-01,1"\n')
    expect(outcome.rejectsCsv).toContain(',"\ttab,2020-13-01,1"\n')
    expect(outcome.rejectsCsv).toContain(',"""multi\nline"",2020-01-01,-1"\n')
    expect(outcome.rejectsCsv.endsWith(',"last,2020-01-01,""9"\n')).toBe(true)
    expect(outcome.rejects.map((r) => r.raw)).toEqual([
      'Umb"rella,2020-01-01,1',
      '  padded,bad,1  ',
      '"multi\nline",2020-01-01,-1',
      'x,2020-01-01',
      Buffer.from('Crème,2020-01-01,"2"x').toString('latin1'),
      'lone\rcr,2020-01-01,1',
      '\ttab,2020-13-01,1',
      'last,2020-01-01,"9',
    ])
  })

  it('writes only the rejects header when no row is rejected', () => {
    const outcome = runEngine(Buffer.from(lines(HEADER, 'A,2020-01-01,1')))
    expect(outcome.ok && outcome.rejectsCsv).toBe('Line,Code,Column,Reason,Raw Row\n')
  })

  it('keeps the raw bytes of a row that is not UTF-8', () => {
    const input = Buffer.concat([
      Buffer.from(lines(HEADER, 'A,2020-01-01,1')),
      Buffer.from([0x42, 0xff, 0x2c]),
      Buffer.from('2020-01-01,1\n'),
    ])
    const outcome = runInEveryChunking(input)
    expect(outcome.ok).toBe(true)
    if (!outcome.ok) return
    expect(outcome.rejects).toEqual([
      { line: 3, code: 'CSV_BAD_TEXT', column: 'Song', raw: 'B\xff,2020-01-01,1' },
    ])
  })

  it('reports counts and sizes in the summary', () => {
    const input = lines(
      HEADER,
      'A,2020-01-01,1',
      '',
      '  ',
      'B,x,1',
      'A,2020-01-01,2',
      'C,2020-01-02,3',
      'D',
    )
    const result = aggregateSync(Buffer.from(input))
    expect(result.summary).toMatchObject({
      bytesRead: Buffer.byteLength(input),
      rowsRead: 5,
      rowsRejected: 2,
      groups: 2,
      outputBytes: result.csv.length,
      rejectsBytes: result.rejectsCsv.length,
    })
    expect(result.csv.toString()).toBe(lines(OUT, 'A,2020-01-01,3', 'C,2020-01-02,3'))
    expect(result.rejected.map((r) => [r.line, r.code])).toEqual([
      [5, 'CSV_BAD_DATE'],
      [8, 'CSV_FIELD_COUNT'],
    ])
  })

  it('counts the BOM in bytesRead and gives a header-only file zero rows', () => {
    const input = `\uFEFF${HEADER}\n\n`
    const result = aggregateSync(Buffer.from(input))
    expect(result.summary).toMatchObject({
      bytesRead: Buffer.byteLength(input),
      rowsRead: 0,
      rowsRejected: 0,
      groups: 0,
    })
  })
})

describe('CSV_NO_VALID_ROWS', () => {
  it('fails when every data row is rejected', () => {
    expectAggregation(lines(HEADER, 'A,x,1'), {}, { error: 'CSV_NO_VALID_ROWS' })
    expectAggregation(
      lines(HEADER, '', 'A,x,1', '  ', ',2020-01-01,1', 'B'),
      {},
      {
        error: 'CSV_NO_VALID_ROWS',
      },
    )
    expectAggregation(`${HEADER}\n"unterminated,2020-01-01,1\n`, {}, { error: 'CSV_NO_VALID_ROWS' })
  })

  it('does not fail when one row is good', () => {
    expectAggregation(
      lines(HEADER, 'A,x,1', 'B,2020-01-01,0', 'C,y,1'),
      {},
      {
        csv: lines(OUT, 'B,2020-01-01,0'),
        rejects: [
          [2, 'CSV_BAD_DATE', 'Date'],
          [4, 'CSV_BAD_DATE', 'Date'],
        ],
      },
    )
  })

  it('does not fail without data rows', () => {
    expectAggregation(lines(HEADER, '', ' '), {}, { csv: lines(OUT) })
  })
})

describe('options', () => {
  it('refuses invalid options with an EngineError', () => {
    const input = Buffer.from(lines(HEADER, 'A,2020-01-01,1'))
    const bad: Record<string, unknown>[] = [
      { order: 'random' },
      { onError: 'ignore' },
      { groupBy: [] },
      { groupBy: ['Song', 'song'] },
      { groupBy: '' },
      { sum: 'Song' },
      { sum: '  ' },
    ]
    for (const options of bad) {
      const error = thrown(() => aggregateSync(input, options))
      expect(error.code, JSON.stringify(options)).toMatch(/^INVALID_OPTION_/)
    }
  })
})
