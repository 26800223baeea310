/**
 * RFC 4180 quoting on input (quoted fields with commas, `""`, CR and LF; spaces around quotes;
 * stray and unclosed quotes) and on output (a field is quoted only when it must be).
 */
import { describe, it } from 'vitest'
import { expectAggregation, lines } from '../support/engine-outcome.js'

const HEADER = 'Song,Date,Number of Plays'
const OUT = 'Song,Date,Total Number of Plays for Date'

describe('quoted fields', () => {
  it('hold commas', () => {
    expectAggregation(
      lines(HEADER, '"Hello, World",2020-01-01,5', '"Hello, World",2020-01-01,1'),
      {},
      {
        csv: lines(OUT, '"Hello, World",2020-01-01,6'),
      },
    )
  })

  it('hold doubled quotes, one quote each (the pair split in every chunking)', () => {
    expectAggregation(
      lines(HEADER, '"Say ""Hi""",2020-01-01,5', '"""""""""",2020-01-01,1'),
      {},
      {
        csv: lines(OUT, '"Say ""Hi""",2020-01-01,5', '"""""""""",2020-01-01,1'),
      },
    )
  })

  it('hold a lone quote value and a quote before a comma', () => {
    expectAggregation(
      lines(HEADER, '"""",2020-01-01,1', '"a""",2020-01-01,2', '"a"",""b",2020-01-01,3'),
      {},
      {
        csv: lines(OUT, '"""",2020-01-01,1', '"a""",2020-01-01,2', '"a"",""b",2020-01-01,3'),
      },
    )
  })

  it('hold LF and CRLF, which count as physical lines', () => {
    const input = lines(
      HEADER,
      '"Line 1\nLine 2",2020-01-01,3',
      '"Windows\r\nLine",2020-01-01,4',
      'Bad,2020-02-30,1',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, '"Line 1\nLine 2",2020-01-01,3', '"Windows\r\nLine",2020-01-01,4'),
        rejects: [[6, 'CSV_BAD_DATE', 'Date']],
      },
    )
  })

  it('hold many LFs and a field that is only line ends', () => {
    const input = lines(HEADER, '"\n\n\n",2020-01-01,1', '"\r\n",2020-01-01,2', 'x,2020-01-01,-1')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, '"\n\n\n",2020-01-01,1', '"\r\n",2020-01-01,2'),
        rejects: [[8, 'CSV_BAD_NUMBER', 'Number of Plays']],
      },
    )
  })

  it('are the same group as the unquoted value', () => {
    const input = lines(
      HEADER,
      '"Umbrella",2020-01-01,1',
      'Umbrella,"2020-01-01",2',
      '"Umbrella","2020-01-01","3"',
      '  Umbrella  ,  2020-01-01  ,  4  ',
    )
    expectAggregation(input, {}, { csv: lines(OUT, 'Umbrella,2020-01-01,10') })
  })

  it('are not trimmed, so padded values are other groups and written quoted', () => {
    const input = lines(
      HEADER,
      '" Umbrella ",2020-01-01,1',
      'Umbrella,2020-01-01,2',
      '"Umbrella\t",2020-01-01,3',
      '" Umbrella ",2020-01-01,4',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(
          OUT,
          '" Umbrella ",2020-01-01,5',
          'Umbrella,2020-01-01,2',
          '"Umbrella\t",2020-01-01,3',
        ),
      },
    )
  })

  it('may have spaces and tabs around the quotes', () => {
    const input = lines(HEADER, ' \t "Umbrella" \t , "2020-01-01"\t,  "7"  ')
    expectAggregation(input, {}, { csv: lines(OUT, 'Umbrella,2020-01-01,7') })
  })

  it('may have spaces after the closing quote at the end of the input', () => {
    expectAggregation(
      `${HEADER}\n"A","2020-01-01","7"  `,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,7'),
      },
    )
    expectAggregation(
      `${HEADER}\n"A","2020-01-01","7"\r`,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,7'),
      },
    )
  })

  it('keep non-ASCII text (multi-byte characters split in every chunking)', () => {
    const input = lines(HEADER, '"Déjà vu, 😀",2020-01-01,1', 'Ünïcödé ☃,2020-01-01,2')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, '"Déjà vu, 😀",2020-01-01,1', 'Ünïcödé ☃,2020-01-01,2'),
      },
    )
  })
})

describe('quoting errors', () => {
  it('reject text after a closing quote with CSV_BAD_QUOTE', () => {
    const input = lines(
      HEADER,
      '"Umb"rella,2020-01-01,1',
      'A,"2020-01-01"x,2',
      'B,2020-01-01,"3" 4',
      'C,2020-01-01,5',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'C,2020-01-01,5'),
        rejects: [
          [2, 'CSV_BAD_QUOTE', 'Song'],
          [3, 'CSV_BAD_QUOTE', 'Date'],
          [4, 'CSV_BAD_QUOTE', 'Number of Plays'],
        ],
      },
    )
  })

  it('reject a quote inside an unquoted field with CSV_BAD_QUOTE, without starting quotes', () => {
    // Were the quotes on lines 2 and 3 taken as quoting, lines 2-3 would be one row.
    const input = lines(
      HEADER,
      'x "y,2020-01-01,1',
      'z",2020-01-01,2',
      'Umbrella,2020-01-01,3',
      'It\'s "good",2020-01-01,4',
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'Umbrella,2020-01-01,3'),
        rejects: [
          [2, 'CSV_BAD_QUOTE', 'Song'],
          [3, 'CSV_BAD_QUOTE', 'Song'],
          [5, 'CSV_BAD_QUOTE', 'Song'],
        ],
      },
    )
  })

  it('reject a quote in an unquoted number or date field', () => {
    const input = lines(HEADER, 'A,2020-01-01,1"', 'B,2020"-01-01,2', 'C,2020-01-01,3')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'C,2020-01-01,3'),
        rejects: [
          [2, 'CSV_BAD_QUOTE', 'Number of Plays'],
          [3, 'CSV_BAD_QUOTE', 'Date'],
        ],
      },
    )
  })

  it('reject the first quoting problem of the row', () => {
    expectAggregation(
      lines(HEADER, 'A,2020-01-01,1', 'x"y,"2020-01-01"z,1"'),
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [[3, 'CSV_BAD_QUOTE', 'Song']],
      },
    )
  })

  it('reject an unclosed quote running to the end of the input (3 fields)', () => {
    const input = lines(HEADER, 'A,2020-01-01,1', 'B,2020-01-01,"2', 'C,2020-01-01,3')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [[3, 'CSV_UNTERMINATED_QUOTE', 'Number of Plays']],
      },
    )
  })

  it('reject an unclosed quote that swallows the rest with the field count first', () => {
    const input = lines(HEADER, 'A,2020-01-01,1', '"B,2020-01-01,2', 'C,2020-01-01,3')
    expectAggregation(
      input,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [[3, 'CSV_FIELD_COUNT']],
      },
    )
  })

  it('reject an unclosed quote in the last field with no line end', () => {
    expectAggregation(
      `${HEADER}\nA,2020-01-01,1\nB,2020-01-01,"2`,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [[3, 'CSV_UNTERMINATED_QUOTE', 'Number of Plays']],
      },
    )
    expectAggregation(
      `${HEADER}\nA,2020-01-01,1\nB,2020-01-01,"`,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [[3, 'CSV_UNTERMINATED_QUOTE', 'Number of Plays']],
      },
    )
  })

  it('end a quoted field at a final quote, even as the last byte', () => {
    expectAggregation(`${HEADER}\nA,2020-01-01,"2"`, {}, { csv: lines(OUT, 'A,2020-01-01,2') })
    expectAggregation(
      `${HEADER}\nA,2020-01-01,1\n"B""",2020-01-01,""""`,
      {},
      {
        csv: lines(OUT, 'A,2020-01-01,1'),
        rejects: [[3, 'CSV_BAD_NUMBER', 'Number of Plays']],
      },
    )
  })
})

describe('output quoting', () => {
  it('quotes only values with , " CR LF or a leading or trailing space or tab', () => {
    const input = lines(
      HEADER,
      'plain,2020-01-01,1',
      'inner space,2020-01-01,1',
      'in\tner tab,2020-01-01,1',
      '"comma,",2020-01-01,1',
      '"quote""",2020-01-01,1',
      '"cr\r",2020-01-01,1',
      '"lf\n",2020-01-01,1',
      '" lead",2020-01-01,1',
      '"trail ",2020-01-01,1',
      '"\tlead tab",2020-01-01,1',
      '"trail tab\t",2020-01-01,1',
      "apostrophe's;semi|pipe=eq,2020-01-01,1",
    )
    expectAggregation(
      input,
      {},
      {
        csv: lines(
          OUT,
          'plain,2020-01-01,1',
          'inner space,2020-01-01,1',
          'in\tner tab,2020-01-01,1',
          '"comma,",2020-01-01,1',
          '"quote""",2020-01-01,1',
          '"cr\r",2020-01-01,1',
          '"lf\n",2020-01-01,1',
          '" lead",2020-01-01,1',
          '"trail ",2020-01-01,1',
          '"\tlead tab",2020-01-01,1',
          '"trail tab\t",2020-01-01,1',
          "apostrophe's;semi|pipe=eq,2020-01-01,1",
        ),
      },
    )
  })

  it('quotes a value that is only spaces (a quoted value is not trimmed, so it is not empty)', () => {
    // Reading of the rules: text group values must be non-empty after the trimming that
    // applies to them; quoted values are not trimmed, so "  " is a value of two spaces.
    expectAggregation(
      lines(HEADER, '"  ",2020-01-01,1', 'A,2020-01-01,2'),
      {},
      {
        csv: lines(OUT, '"  ",2020-01-01,1', 'A,2020-01-01,2'),
      },
    )
  })
})
