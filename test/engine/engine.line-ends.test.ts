/**
 * Line ends and blank lines: LF, CRLF (split across chunks), a final CR, lone CRs (kept as data,
 * the row rejected), blank lines of nothing or of spaces and tabs, and physical line numbers.
 */
import { describe, it } from 'vitest'
import { expectAggregation, lines } from '../support/engine-outcome.js'

const HEADER = 'Song,Date,Number of Plays'
const OUT = 'Song,Date,Total Number of Plays for Date'

describe('line ends', () => {
  it('accepts CRLF everywhere (CR and LF split in every chunking)', () => {
    const input =
      'Song,Date,Number of Plays\r\nA,2020-01-01,1\r\nB,2020-01-02,2\r\nA,2020-01-01,3\r\n'
    expectAggregation(input, {}, { csv: lines(OUT, 'A,2020-01-01,4', 'B,2020-01-02,2') })
  })

  it('accepts mixed LF and CRLF', () => {
    const input = 'Song,Date,Number of Plays\nA,2020-01-01,1\r\nB,2020-01-02,2\nA,2020-01-01,3\r\n'
    expectAggregation(input, {}, { csv: lines(OUT, 'A,2020-01-01,4', 'B,2020-01-02,2') })
  })

  it('accepts a last row without a line end', () => {
    expectAggregation(
      `${HEADER}\nA,2020-01-01,1\nB,2020-01-02,2`,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1', 'B,2020-01-02,2'),
      },
    )
  })

  it('takes a CR as the very last byte as a line end', () => {
    expectAggregation(
      `${HEADER}\r\nA,2020-01-01,1\r\nB,2020-01-02,2\r`,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1', 'B,2020-01-02,2'),
      },
    )
    expectAggregation(`${HEADER}\r\nA,2020-01-01,"1"\r`, {}, { csv: lines(OUT, 'A,2020-01-01,1') })
    expectAggregation(`${HEADER}\r\nA,2020-01-01,1  \r`, {}, { csv: lines(OUT, 'A,2020-01-01,1') })
  })

  it('keeps CR and LF inside quotes as data', () => {
    const input = lines(
      HEADER,
      '"A\rB",2020-01-01,1',
      '"C\r",2020-01-01,2',
      '"\rD\r\n",2020-01-01,3',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, '"A\rB",2020-01-01,1', '"C\r",2020-01-01,2', '"\rD\r\n",2020-01-01,3'),
      },
    )
  })
})

describe('lone CR', () => {
  it('rejects a row with a lone CR in an unquoted field with CSV_BAD_LINE_END', () => {
    const input = lines(HEADER, 'A\rB,2020-01-01,1', 'C,2020-01-01,2', 'D,2020-01-01,3\r4')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'C,2020-01-01,2'),
        rejects: [
          [2, 'CSV_BAD_LINE_END', 'Song'],
          [4, 'CSV_BAD_LINE_END', 'Number of Plays'],
        ],
      },
    )
  })

  it('does not end the row at a lone CR (the row runs to the next LF)', () => {
    // Split at the CR this would be two good rows; it is one row of five fields.
    const input = lines(HEADER, 'A,2020-01-01,1\rB,2020-01-01,2', 'C,2020-01-01,3')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'C,2020-01-01,3'),
        rejects: [[2, 'CSV_FIELD_COUNT']],
      },
    )
  })

  it('rejects a lone CR after a closing quote', () => {
    // Text after a closing quote is a quoting problem, but a lone CR is a line-end problem
    // wherever it is outside quotes: the more specific code wins.
    const input = lines(HEADER, '"A"\rx,2020-01-01,1', 'C,2020-01-01,3')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'C,2020-01-01,3'),
        rejects: [[2, 'CSV_BAD_LINE_END', 'Song']],
      },
    )
  })

  it('rejects a lone CR in an unquoted field with trailing spaces and in a date', () => {
    const input = lines(HEADER, 'A \r ,2020-01-01,1', 'B,2020-01\r-01,2', 'C,2020-01-01,3')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'C,2020-01-01,3'),
        rejects: [
          [2, 'CSV_BAD_LINE_END', 'Song'],
          [3, 'CSV_BAD_LINE_END', 'Date'],
        ],
      },
    )
  })

  it('takes a line of a lone CR as a row (one field), not a blank line', () => {
    const input = 'Song,Date,Number of Plays\nA,2020-01-01,1\n\r\r\nB,2020-01-01,2\n'
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1', 'B,2020-01-01,2'),
        rejects: [[3, 'CSV_FIELD_COUNT']],
      },
    )
  })

  it('counts the first quoting or line-end problem of a row', () => {
    const input = lines(HEADER, 'A\r"B,2020-01-01,1', 'A"\rB,2020-01-01,1', 'C,2020-01-01,3')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'C,2020-01-01,3'),
        rejects: [
          [2, 'CSV_BAD_LINE_END', 'Song'],
          [3, 'CSV_BAD_QUOTE', 'Song'],
        ],
      },
    )
  })
})

describe('blank lines', () => {
  it('skips empty lines, CRLF lines and lines of spaces and tabs anywhere', () => {
    const input =
      'Song,Date,Number of Plays\n\nA,2020-01-01,1\r\n\r\n   \n\t\t\n \t \r\nB,2020-01-01,2\n\n\n'
    expectAggregation(input, {}, { csv: lines(OUT, 'A,2020-01-01,1', 'B,2020-01-01,2') })
  })

  it('skips a last line of spaces without a line end', () => {
    expectAggregation(`${HEADER}\nA,2020-01-01,1\n  \t`, {}, { csv: lines(OUT, 'A,2020-01-01,1') })
  })

  it('counts blank lines in line numbers', () => {
    const input = `${HEADER}\n\n  \n\r\nbad,2020-01-01,x\n\t\nA,2020-01-01,1\n\n\nB,2020-99-01,2\n`
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [
          [5, 'CSV_BAD_NUMBER', 'Number of Plays'],
          [10, 'CSV_BAD_DATE', 'Date'],
        ],
      },
    )
  })

  it('does not take a line of commas, or of a quoted empty value, as blank', () => {
    const input = lines(HEADER, ',,', '""', ' , ', 'A,2020-01-01,1')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [
          [2, 'CSV_EMPTY_VALUE', 'Song'],
          [3, 'CSV_FIELD_COUNT'],
          [4, 'CSV_FIELD_COUNT'],
        ],
      },
    )
  })
})

describe('line numbers', () => {
  it('count every LF, inside quotes too, and give the line where the row starts', () => {
    const input = lines(
      HEADER,
      '"multi\nline\nsong",2020-01-01,1',
      '"bad\r\ndate",2020-02-30,1',
      'A,2020-01-01,"1\n2"',
      '"x\n",2020-01-01,1,extra',
      'B,2020-01-01,2',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, '"multi\nline\nsong",2020-01-01,1', 'B,2020-01-01,2'),
        rejects: [
          [5, 'CSV_BAD_DATE', 'Date'],
          [7, 'CSV_BAD_NUMBER', 'Number of Plays'],
          [9, 'CSV_FIELD_COUNT'],
        ],
      },
    )
  })

  it('do not count lone CRs', () => {
    const input = lines(
      HEADER,
      'A\r,2020-01-01,1',
      'B\r\r,2020-01-01,1',
      'C,2020-01-01,x',
      'D,2020-01-01,1',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'D,2020-01-01,1'),
        rejects: [
          [2, 'CSV_BAD_LINE_END', 'Song'],
          [3, 'CSV_BAD_LINE_END', 'Song'],
          [4, 'CSV_BAD_NUMBER', 'Number of Plays'],
        ],
      },
    )
  })

  it('are the same in onError=fail', () => {
    const input = lines(HEADER, '"a\nb",2020-01-01,1', '', 'c,2020-01-01,1.5')
    expectAggregation(
      input,
      { onError: 'fail' },
      {
        error: 'CSV_BAD_NUMBER',
        line: 5,
        column: 'Number of Plays',
      },
    )
  })
})
