/**
 * The test oracle: a deliberately simple, string-based aggregator implementing the engine's
 * rules (DESIGN.md section 1 and the engine's rule list) one character at a time. It is slow
 * and obvious on purpose; engine results are compared with it, never the other way round.
 *
 * The input is decoded as Latin-1 ("binary" string: one character per byte), so the walker sees
 * every byte exactly, invalid UTF-8 included; the structural characters (`,` `"` CR LF space
 * tab) are ASCII, so walking bytes and walking characters are the same thing. Values are turned
 * back into bytes only to check that they are valid UTF-8, and the output is decoded as UTF-8 at
 * the very end (every value written is valid UTF-8, the others having been rejected). Sorting
 * Latin-1 strings by code unit is sorting by bytes, which is what `order=sorted` asks for.
 */

export type ReferenceOrder = 'first_seen' | 'sorted'
export type ReferenceOnError = 'skip' | 'fail'

export interface ReferenceOptions {
  order?: ReferenceOrder
  onError?: ReferenceOnError
  groupBy?: readonly string[] | string
  sum?: string
}

export interface ReferenceReject {
  line: number
  code: string
  /** Header name as written (trimmed); undefined for field-count errors. */
  column: string | undefined
  /** The row's bytes without its line end, as a Latin-1 string (one character per byte). */
  raw: string
}

export interface ReferenceSuccess {
  csv: string
  rejects: ReferenceReject[]
  rowsRead: number
  groups: number
}

export interface ReferenceFailure {
  error: string
  line?: number
  column?: string
}

export type ReferenceResult = ReferenceSuccess | ReferenceFailure

export function isReferenceFailure(result: ReferenceResult): result is ReferenceFailure {
  return 'error' in result
}

const DEFAULT_GROUP_BY = ['Song', 'Date']
const DEFAULT_SUM = 'Number of Plays'
const DEFAULT_TOTAL = 'Total Number of Plays for Date'

/** Leading bytes of files that are not CSV text. */
const BINARY_SIGNATURES = [
  '\x1f\x8b', // gzip
  'PK\x03\x04', // ZIP / xlsx
  '\x89PNG', // PNG
  '%PDF-', // PDF
  '\xff\xd8\xff', // JPEG
  'GIF8', // GIF
  '\xff\xfe', // UTF-16 LE BOM
  '\xfe\xff', // UTF-16 BE BOM
]

const BOM = '\xef\xbb\xbf'

interface Field {
  /** Unescaped (quoted) or trimmed (unquoted) value, Latin-1. */
  value: string
  quoted: boolean
}

interface Row {
  fields: Field[]
  /** First quoting / line-end problem in the row, by position. */
  problem: { code: string; field: number } | undefined
  /** The row's bytes without its line end. */
  raw: string
  /** LF characters consumed, inside quotes and the line end included. */
  newlines: number
  next: number
}

const isSpace = (c: string | undefined) => c === ' ' || c === '\t'

function trimSpaces(s: string): string {
  let a = 0
  let b = s.length
  while (a < b && isSpace(s[a])) a++
  while (b > a && isSpace(s[b - 1])) b--
  return s.slice(a, b)
}

/** Reads one row starting at `start` (which is before the end of `s`). */
function readRow(s: string, start: number): Row {
  const n = s.length
  const fields: Field[] = []
  let problem: Row['problem']
  let newlines = 0
  const flag = (code: string) => {
    if (problem === undefined) problem = { code, field: fields.length }
  }
  // True when position p is a line end: LF, CRLF, or a CR that is the last character.
  const atLineEnd = (p: number) =>
    s[p] === '\n' || (s[p] === '\r' && (p + 1 === n || s[p + 1] === '\n'))
  // Text that is not inside quotes: runs to a comma, a line end or the end of the input.
  const skipToFieldEnd = (p: number) => {
    let text = ''
    while (p < n && s[p] !== ',' && !atLineEnd(p)) {
      if (s[p] === '"') flag('CSV_BAD_QUOTE')
      else if (s[p] === '\r') flag('CSV_BAD_LINE_END')
      text += s[p]
      p++
    }
    return { p, text }
  }
  let p = start
  for (;;) {
    while (isSpace(s[p])) p++
    if (s[p] === '"') {
      p++
      let value = ''
      let closed = false
      while (p < n) {
        if (s[p] === '"') {
          if (s[p + 1] === '"') {
            value += '"'
            p += 2
            continue
          }
          closed = true
          p++
          break
        }
        if (s[p] === '\n') newlines++
        value += s[p]
        p++
      }
      if (!closed) {
        flag('CSV_UNTERMINATED_QUOTE')
        fields.push({ value, quoted: true })
        return { fields, problem, raw: s.slice(start, n), newlines, next: n }
      }
      while (isSpace(s[p])) p++
      if (p < n && s[p] !== ',' && !atLineEnd(p)) {
        // Text after the closing quote. A lone CR there is a line-end problem like anywhere
        // else outside quotes; any other character is a quoting problem.
        flag(s[p] === '\r' ? 'CSV_BAD_LINE_END' : 'CSV_BAD_QUOTE')
        p = skipToFieldEnd(p).p
      }
      fields.push({ value, quoted: true })
    } else {
      const field = skipToFieldEnd(p)
      p = field.p
      fields.push({ value: trimSpaces(field.text), quoted: false })
    }
    if (s[p] === ',') {
      p++
      continue
    }
    const rawEnd = p
    if (p < n) {
      if (s[p] === '\r') p++
      if (s[p] === '\n') {
        p++
        newlines++
      }
    }
    return { fields, problem, raw: s.slice(start, rawEnd), newlines, next: p }
  }
}

function isBlank(row: Row): boolean {
  return (
    row.problem === undefined &&
    row.fields.length === 1 &&
    !row.fields[0]!.quoted &&
    row.fields[0]!.value === ''
  )
}

function utf8(latin1: string): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(latin1, 'latin1'))
  } catch {
    return undefined
  }
}

function isValidText(latin1: string): boolean {
  return !latin1.includes('\0') && utf8(latin1) !== undefined
}

function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value)
  if (!m) return false
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  if (month < 1 || month > 12 || day < 1) return false
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!
  return day <= days
}

function csvField(value: string): string {
  const needsQuotes =
    /[,"\r\n]/.test(value) ||
    (value.length > 0 && (isSpace(value[0]) || isSpace(value[value.length - 1])))
  return needsQuotes ? `"${value.replaceAll('"', '""')}"` : value
}

/** Aggregates `input` (a UTF-8 string, or raw bytes) by the engine's rules. */
export function referenceAggregate(
  input: string | Uint8Array,
  options: ReferenceOptions = {},
): ReferenceResult {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input)
  let s = bytes.toString('latin1')
  if (BINARY_SIGNATURES.some((sig) => s.startsWith(sig))) return { error: 'CSV_NOT_TEXT' }
  if (s.startsWith(BOM)) s = s.slice(BOM.length)

  const rawGroupBy = options.groupBy ?? DEFAULT_GROUP_BY
  const groupBy = (typeof rawGroupBy === 'string' ? rawGroupBy.split(',') : [...rawGroupBy]).map(
    (name) => name.trim(),
  )
  const sum = (options.sum ?? DEFAULT_SUM).trim()
  const isDefaultSpec =
    groupBy.length === 2 &&
    groupBy[0]!.toLowerCase() === 'song' &&
    groupBy[1]!.toLowerCase() === 'date' &&
    sum.toLowerCase() === DEFAULT_SUM.toLowerCase()
  const totalColumn = isDefaultSpec ? DEFAULT_TOTAL : `Total ${sum}`
  const wanted = [...groupBy, sum]
  const onError = options.onError ?? 'skip'

  let header: string[] | undefined
  let columns: number[] = []
  const rejects: ReferenceReject[] = []
  const groups = new Map<string, { values: string[]; total: bigint }>()
  let rowsRead = 0
  let line = 1
  let p = 0

  while (p < s.length) {
    const row = readRow(s, p)
    const rowLine = line
    line += row.newlines
    p = row.next
    if (isBlank(row)) continue

    if (header === undefined) {
      const names: string[] = []
      for (const field of row.fields) {
        const name = utf8(field.value)
        if (name === undefined || name.includes('\0'))
          return { error: 'CSV_NOT_TEXT', line: rowLine }
        names.push(trimSpaces(name))
      }
      // A header that is not clean CSV is not covered by the rules: make it visible.
      if (row.problem !== undefined) return { error: `UNSPECIFIED_HEADER_${row.problem.code}` }
      const lower = names.map((name) => name.toLowerCase())
      const matches = wanted.map((w) =>
        lower.flatMap((name, i) => (name === w.toLowerCase() ? [i] : [])),
      )
      const missing = wanted.filter((_, k) => matches[k]!.length === 0)
      const duplicated = wanted.filter((_, k) => matches[k]!.length > 1)
      if (missing.length > 0 && duplicated.length > 0) return { error: 'UNSPECIFIED_HEADER' }
      if (missing.length > 0) return { error: 'CSV_MISSING_COLUMNS', column: missing[0] }
      if (duplicated.length > 0) return { error: 'CSV_DUPLICATE_COLUMN', column: duplicated[0] }
      header = names
      columns = matches.map((m) => m[0]!)
      continue
    }

    rowsRead++
    const names = header
    const bad = (code: string, field: number | undefined): ReferenceFailure | undefined => {
      const column = field === undefined ? undefined : names[field]
      if (onError === 'fail') return { error: code, line: rowLine, column }
      rejects.push({ line: rowLine, code, column, raw: row.raw })
      return undefined
    }
    const check = (): [string, number | undefined] | undefined => {
      if (row.fields.length !== names.length) return ['CSV_FIELD_COUNT', undefined]
      if (row.problem) return [row.problem.code, row.problem.field]
      for (let k = 0; k < groupBy.length; k++) {
        const i = columns[k]!
        const value = row.fields[i]!.value
        if (groupBy[k]!.toLowerCase() === 'date') {
          if (!isCalendarDate(value)) return ['CSV_BAD_DATE', i]
        } else if (value === '') {
          return ['CSV_EMPTY_VALUE', i]
        }
      }
      const sumIndex = columns[groupBy.length]!
      if (!/^[0-9]+$/.test(row.fields[sumIndex]!.value)) return ['CSV_BAD_NUMBER', sumIndex]
      for (let k = 0; k < groupBy.length; k++) {
        const i = columns[k]!
        if (!isValidText(row.fields[i]!.value)) return ['CSV_BAD_TEXT', i]
      }
      return undefined
    }
    const failure = check()
    if (failure) {
      const fatal = bad(failure[0], failure[1])
      if (fatal) return fatal
      continue
    }
    const values = columns.slice(0, groupBy.length).map((i) => row.fields[i]!.value)
    const key = JSON.stringify(values)
    const group = groups.get(key) ?? { values, total: 0n }
    group.total += BigInt(row.fields[columns[groupBy.length]!]!.value)
    groups.set(key, group)
  }

  if (header === undefined) return { error: 'CSV_EMPTY_FILE' }
  if (rowsRead > 0 && rejects.length === rowsRead) {
    return { error: 'CSV_NO_VALID_ROWS', line: rejects[0]!.line, column: rejects[0]!.column }
  }

  // Map iteration order is insertion order: the order of each group's first accepted row.
  const ordered = [...groups.values()]
  if (options.order === 'sorted') {
    ordered.sort((a, b) => {
      for (let k = 0; k < a.values.length; k++) {
        if (a.values[k]! < b.values[k]!) return -1
        if (a.values[k]! > b.values[k]!) return 1
      }
      return 0
    })
  }
  const headerNames = columns.slice(0, groupBy.length).map((i) => header![i]!)
  // Header names are real strings; values are Latin-1 until the final decode.
  const toLatin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1')
  let out = `${[...headerNames, totalColumn].map(toLatin1).map(csvField).join(',')}\n`
  for (const group of ordered) {
    out += `${[...group.values, group.total.toString()].map(csvField).join(',')}\n`
  }
  return {
    csv: Buffer.from(out, 'latin1').toString('utf8'),
    rejects,
    rowsRead,
    groups: groups.size,
  }
}
