/**
 * fast-check arbitraries for CSV files of song plays, good and bad: random songs (commas,
 * quotes, line ends, non-ASCII, padding), random quoting of any field, LF / CRLF, blank lines,
 * extra columns in a shuffled order, counts near 2^53 and far beyond, and bad rows of every kind
 * (wrong field count, empty value, bad date, bad number, stray quote, text after a closing
 * quote, lone CR, NUL / invalid UTF-8, a quote left open at the end).
 *
 * A file is built as a Latin-1 "binary" string (one character per byte), so invalid UTF-8 can
 * be written as raw bytes; `bytes` is the file itself.
 */
import fc from 'fast-check'
import type { TestOptions } from './engine-outcome.js'

type Kind = 'text' | 'date' | 'count' | 'extra'

interface Column {
  name: string
  kind: Kind
  /**
   * Written exactly as the option names it. The rules leave open whether `Total <sum>` takes the
   * sum column's name from the option or from the file, so files do not tell the two apart.
   */
  keepCase?: boolean
}

/** The shapes of spec tried: the default one and custom group / sum columns. */
const VARIANTS: { options: TestOptions; columns: Column[] }[] = [
  {
    options: {},
    columns: [
      { name: 'Song', kind: 'text' },
      { name: 'Date', kind: 'date' },
      { name: 'Number of Plays', kind: 'count' },
    ],
  },
  {
    options: { groupBy: ['Date', 'Song'] },
    columns: [
      { name: 'Song', kind: 'text' },
      { name: 'Date', kind: 'date' },
      { name: 'Number of Plays', kind: 'count' },
    ],
  },
  {
    // Date is not grouped by here: its values are not checked.
    options: { groupBy: ['Song'] },
    columns: [
      { name: 'Song', kind: 'text' },
      { name: 'Date', kind: 'date' },
      { name: 'Number of Plays', kind: 'count' },
    ],
  },
  {
    options: { groupBy: 'Artist,Song', sum: 'Plays' },
    columns: [
      { name: 'Artist', kind: 'text' },
      { name: 'Song', kind: 'text' },
      { name: 'Plays', kind: 'count', keepCase: true },
    ],
  },
]

const EXTRA_NAMES = ['Extra', 'Notes', 'Comment']

export const toLatin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1')

const songChar = fc.constantFrom(
  'a',
  'b',
  'Z',
  '1',
  ' ',
  '\t',
  ',',
  '"',
  '\n',
  '\r\n',
  '\r',
  "'",
  'é',
  'ß',
  '東',
  '😀',
  '\uFEFF',
)

const song = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('Umbrella', 'In The End', 'umbrella', 'Hello, World') },
  {
    weight: 4,
    arbitrary: fc.array(songChar, { minLength: 1, maxLength: 6 }).map((c) => c.join('')),
  },
)

const validDate = fc.constantFrom(
  '2020-01-01',
  '2020-02-29',
  '1999-12-31',
  '0000-01-01',
  '9999-12-31',
)
const invalidDate = fc.constantFrom(
  '2021-02-29',
  '2020-13-01',
  '2020-1-01',
  '',
  'x',
  ' 2020-01-01',
  '2020-01-01 ',
  '2020/01/01',
  '1900-02-29',
)

const NEAR_2_53 = 2n ** 53n
const count = fc.oneof(
  { weight: 6, arbitrary: fc.nat(1000).map(String) },
  { weight: 3, arbitrary: fc.bigInt(NEAR_2_53 - 8n, NEAR_2_53 + 8n).map(String) },
  { weight: 2, arbitrary: fc.bigInt(0n, 10n ** 40n).map(String) },
  { weight: 1, arbitrary: fc.nat(99).map((n) => `000${n}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('-1', '1.5', '', '1e3', 'x', ' 5 ', '1 0', '+1', '٣', '0x1'),
  },
)

/** Latin-1 strings of bytes that are not valid group text. */
const badText = fc.constantFrom('\0', 'a\0b', '\xff', 'a\xc3', '\xc0\xaf', '\xed\xa0\x80')

/** A cell: where its value comes from, and how it is written. */
interface Cell {
  value: { pick: number } | { literal: string }
  mode: 'auto' | 'quote' | 'raw' | 'garbage' | 'cr'
  padBefore: string
  padAfter: string
}

const pad = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constantFrom(' ', '\t', '  ', ' \t') },
)

const mode = fc.oneof(
  { weight: 30, arbitrary: fc.constant('auto' as const) },
  { weight: 8, arbitrary: fc.constant('quote' as const) },
  { weight: 1, arbitrary: fc.constant('raw' as const) },
  { weight: 1, arbitrary: fc.constant('garbage' as const) },
  { weight: 1, arbitrary: fc.constant('cr' as const) },
)

function valueFor(kind: Kind): fc.Arbitrary<Cell['value']> {
  switch (kind) {
    case 'text':
      return fc.oneof(
        { weight: 20, arbitrary: fc.nat().map((pick) => ({ pick })) },
        { weight: 1, arbitrary: fc.constantFrom('', '  ').map((literal) => ({ literal })) },
        { weight: 1, arbitrary: badText.map((literal) => ({ literal })) },
      )
    case 'date':
      return fc
        .oneof({ weight: 12, arbitrary: validDate }, { weight: 1, arbitrary: invalidDate })
        .map((d) => ({ literal: d }))
    case 'count':
      return count.map((literal) => ({ literal }))
    case 'extra':
      return fc.oneof(song.map(toLatin1), badText, fc.constant('')).map((literal) => ({ literal }))
  }
}

function cellFor(kind: Kind): fc.Arbitrary<Cell> {
  return fc.record({ value: valueFor(kind), mode, padBefore: pad, padAfter: pad })
}

interface RowPlan {
  cells: Cell[]
  fieldDelta: number
  crlf: boolean
  blankBefore: string[]
}

const BLANKS = ['', ' ', '\t', ' \t ']

function rowFor(columns: Column[]): fc.Arbitrary<RowPlan> {
  return fc.record({
    cells: fc.tuple(...columns.map((c) => cellFor(c.kind))),
    fieldDelta: fc.oneof(
      { weight: 30, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.constantFrom(-1, 1) },
    ),
    crlf: fc.boolean(),
    blankBefore: fc.oneof(
      { weight: 6, arbitrary: fc.constant<string[]>([]) },
      { weight: 1, arbitrary: fc.array(fc.constantFrom(...BLANKS), { maxLength: 2 }) },
    ),
  })
}

const mustQuote = (v: string) => /[,"\r\n]/.test(v) || /^[ \t]|[ \t]$/.test(v)
const quoted = (v: string) => `"${v.replaceAll('"', '""')}"`

function renderCell(cell: Cell, pool: readonly string[]): string {
  const value = 'pick' in cell.value ? pool[cell.value.pick % pool.length]! : cell.value.literal
  let text: string
  switch (cell.mode) {
    case 'auto':
      text = mustQuote(value) ? quoted(value) : value
      break
    case 'quote':
      text = quoted(value)
      break
    case 'raw':
      text = value
      break
    case 'garbage':
      text = `${quoted(value)}x`
      break
    case 'cr':
      text = `${value}\ry`
      break
  }
  return `${cell.padBefore}${text}${cell.padAfter}`
}

export interface HeaderForms {
  /** Padding inside quoted names (`" Song "`). */
  padInsideQuotes: boolean
  /** Lines of spaces and tabs before the header. */
  whitespaceLinesBeforeHeader: boolean
}

export interface GeneratedCsv {
  bytes: Buffer
  options: TestOptions
  [fc.toStringMethod]: () => string
}

/** Counterexamples print as readable text (bytes that are not UTF-8 as `\xNN`). */
function describedCsv(bytes: Buffer, options: TestOptions): GeneratedCsv {
  return {
    bytes,
    options,
    [fc.toStringMethod]: () => {
      const text = bytes.toString('latin1').replace(/[\x80-\xff]+/g, (run) => {
        const decoded = Buffer.from(run, 'latin1').toString('utf8')
        return decoded.includes('\uFFFD')
          ? [...run].map((c) => `\\x${c.charCodeAt(0).toString(16)}`).join('')
          : decoded
      })
      return `{ text: ${JSON.stringify(text)}, options: ${JSON.stringify(options)} }`
    },
  }
}

/** An arbitrary CSV file with the options to aggregate it with. */
export function generatedCsv(
  forms: HeaderForms = { padInsideQuotes: false, whitespaceLinesBeforeHeader: false },
): fc.Arbitrary<GeneratedCsv> {
  return fc.constantFrom(...VARIANTS).chain((variant) =>
    fc
      .tuple(fc.subarray(EXTRA_NAMES, { maxLength: 2 }), fc.constantFrom('as is', 'lower', 'upper'))
      .chain(([extras, casing]) => {
        const all: Column[] = [
          ...variant.columns.map((c) => ({
            ...c,
            name:
              c.keepCase || casing === 'as is'
                ? c.name
                : casing === 'lower'
                  ? c.name.toLowerCase()
                  : c.name.toUpperCase(),
          })),
          ...extras.map((name) => ({ name, kind: 'extra' as const })),
        ]
        return fc.record({
          columns: fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }),
          variant: fc.constant(variant),
        })
      })
      .chain(({ columns, variant }) => {
        const headerCell = fc.record({
          quote: fc.boolean(),
          before: pad,
          after: pad,
          inside: forms.padInsideQuotes
            ? fc.tuple(pad, pad)
            : fc.constant(['', ''] as [string, string]),
        })
        const blankBeforeHeader = fc.array(
          forms.whitespaceLinesBeforeHeader ? fc.constantFrom(...BLANKS) : fc.constant(''),
          { maxLength: 2 },
        )
        return fc.record({
          columns: fc.constant(columns),
          options: fc
            .record({
              order: fc.constantFrom('first_seen' as const, 'sorted' as const),
              onError: fc.oneof(
                { weight: 4, arbitrary: fc.constant('skip' as const) },
                { weight: 1, arbitrary: fc.constant('fail' as const) },
              ),
            })
            .map((o) => ({ ...variant.options, ...o })),
          bom: fc.boolean(),
          blankBeforeHeader,
          header: fc.tuple(...columns.map(() => headerCell)),
          pool: fc.array(song.map(toLatin1), { minLength: 1, maxLength: 5 }),
          rows: fc.array(rowFor(columns), { maxLength: 25 }),
          ending: fc.constantFrom('lf', 'none', 'cr'),
          openQuoteAtEnd: fc.oneof(
            { weight: 8, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: fc.tuple(fc.boolean(), song.map(toLatin1)) },
          ),
        })
      })
      .map((plan) => {
        let out = plan.bom ? '\xef\xbb\xbf' : ''
        for (const blank of plan.blankBeforeHeader) out += `${blank}\n`
        out += plan.columns
          .map((c, i) => {
            const h = plan.header[i]!
            const name = `${h.inside[0]}${c.name}${h.inside[1]}`
            return `${h.before}${h.quote ? quoted(name) : name}${h.after}`
          })
          .join(',')
        out += '\n'
        plan.rows.forEach((row, r) => {
          for (const blank of row.blankBefore) out += `${blank}${row.crlf ? '\r\n' : '\n'}`
          let cells = row.cells.map((cell) => renderCell(cell, plan.pool))
          if (row.fieldDelta < 0) cells = cells.slice(0, -1)
          if (row.fieldDelta > 0) cells = [...cells, 'extra']
          out += cells.join(',')
          const last = r === plan.rows.length - 1 && plan.openQuoteAtEnd === undefined
          if (!last || plan.ending === 'lf') out += row.crlf ? '\r\n' : '\n'
          else if (plan.ending === 'cr') out += '\r'
        })
        if (plan.openQuoteAtEnd !== undefined) {
          // A row whose last field opens a quote that is never closed.
          const [inLastField, text] = plan.openQuoteAtEnd
          const cells = plan.columns.map(() => 'v')
          cells[inLastField ? cells.length - 1 : 0] = `"${text.replaceAll('"', '""')}`
          out += cells.join(',')
          if (plan.ending === 'lf') out += '\n'
        }
        return describedCsv(Buffer.from(out, 'latin1'), plan.options)
      }),
  )
}
