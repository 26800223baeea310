/**
 * Turns groups into CSV bytes: `Song,Date,Total Number of Plays for Date`, LF line ends, a field
 * quoted only when it must be (it holds a comma, a quote, CR or LF, or starts or ends with a
 * space or tab, which an unquoted field would lose to trimming).
 *
 * With `escapeFormulas` (the `escape_formulas` option), a text field that a spreadsheet would
 * run as a formula (it starts with `=`, `+`, `-`, `@`, tab or CR) is written as OWASP's CSV
 * injection advice says: a single quote in front and the field quoted (`=1+1` -> `"'=1+1"`).
 * Dates and totals are never escaped: they are digits and dashes we write ourselves, and totals
 * are non-negative, so they never start with `-`.
 */
import { COMMA, CR, LF, QUOTE, SPACE, TAB, textEncoder } from './bytes.js'
import type { ByteDictionary } from './dictionary.js'
import type { GroupTable } from './group-table.js'
import type { ColumnLayout } from './header.js'
import { sharedInt32 } from './shared-memory.js'

const APOSTROPHE = 0x27

export type ByteSink = (chunk: Uint8Array) => void

/** Collects bytes into large chunks and hands each full chunk to `sink`. */
export class ByteWriter {
  private buf: Uint8Array
  private used = 0
  private readonly sink: ByteSink
  bytesWritten = 0

  constructor(sink: ByteSink, chunkBytes = 1 << 20) {
    this.sink = sink
    this.buf = new Uint8Array(chunkBytes)
  }

  /** Room for `n` more bytes; returns the buffer and the offset to write at. */
  ensure(n: number): Uint8Array {
    if (this.used + n > this.buf.length) {
      this.flush()
      if (n > this.buf.length) this.buf = new Uint8Array(n)
    }
    return this.buf
  }

  get offset(): number {
    return this.used
  }

  advance(n: number): void {
    this.used += n
    this.bytesWritten += n
  }

  write(bytes: Uint8Array): void {
    this.ensure(bytes.length).set(bytes, this.used)
    this.advance(bytes.length)
  }

  writeByte(byte: number): void {
    this.ensure(1)[this.used] = byte
    this.advance(1)
  }

  flush(): void {
    if (this.used > 0) {
      this.sink(this.buf.slice(0, this.used))
      this.used = 0
    }
  }
}

export function needsQuotes(bytes: Uint8Array, start: number, end: number): boolean {
  if (start === end) return false
  if (bytes[start] === SPACE || bytes[start] === TAB) return true
  if (bytes[end - 1] === SPACE || bytes[end - 1] === TAB) return true
  for (let i = start; i < end; i++) {
    const c = bytes[i]!
    if (c === COMMA || c === QUOTE || c === LF || c === CR) return true
  }
  return false
}

const EQUALS = 0x3d
const PLUS = 0x2b
const MINUS = 0x2d
const AT = 0x40

/** Whether a spreadsheet would take a cell starting with `byte` for a formula (OWASP). */
export function startsFormula(byte: number | undefined): boolean {
  return (
    byte === EQUALS || byte === PLUS || byte === MINUS || byte === AT || byte === TAB || byte === CR
  )
}

export function writeField(
  out: ByteWriter,
  bytes: Uint8Array,
  start: number,
  end: number,
  escapeFormulas = false,
): void {
  const length = end - start
  if (escapeFormulas && length > 0 && startsFormula(bytes[start])) {
    writeQuoted(out, bytes, start, end, true)
    return
  }
  const buf = out.ensure(length)
  const at = out.offset
  const first = bytes[start]
  const last = bytes[end - 1]
  let plain = length === 0 || (first !== SPACE && first !== TAB && last !== SPACE && last !== TAB)
  // Copy and check in one pass; a value that needs quotes is written again below.
  for (let i = 0; plain && i < length; i++) {
    const c = bytes[start + i]!
    if (c <= QUOTE || c === COMMA) plain = c !== QUOTE && c !== COMMA && c !== LF && c !== CR
    buf[at + i] = c
  }
  if (plain) {
    out.advance(length)
    return
  }
  writeQuoted(out, bytes, start, end)
}

/** The bytes `writeField` writes for a value. */
export function fieldBytes(
  bytes: Uint8Array,
  start: number,
  end: number,
  escapeFormulas = false,
): number {
  const apostrophe = escapeFormulas && end > start && startsFormula(bytes[start])
  if (!apostrophe && !needsQuotes(bytes, start, end)) return end - start
  return quotedBytes(bytes, start, end, apostrophe)
}

/** The bytes `writeQuoted` writes. */
function quotedBytes(bytes: Uint8Array, start: number, end: number, apostrophe: boolean): number {
  let quotes = 0
  for (let i = start; i < end; i++) if (bytes[i] === QUOTE) quotes++
  return end - start + quotes + 2 + (apostrophe ? 1 : 0)
}

/** `"value"` with inner quotes doubled; with `apostrophe`, `"'value"` (a formula made text). */
function writeQuoted(
  out: ByteWriter,
  bytes: Uint8Array,
  start: number,
  end: number,
  apostrophe = false,
): void {
  const length = quotedBytes(bytes, start, end, apostrophe)
  const buf = out.ensure(length)
  let at = out.offset
  buf[at++] = QUOTE
  if (apostrophe) buf[at++] = APOSTROPHE
  for (let i = start; i < end; i++) {
    const c = bytes[i]!
    buf[at++] = c
    if (c === QUOTE) buf[at++] = QUOTE
  }
  buf[at++] = QUOTE
  out.advance(length)
}

export function writeHeader(
  out: ByteWriter,
  layout: ColumnLayout,
  totalColumn: string,
  escapeFormulas = false,
): void {
  const names = [...layout.groupNames, totalColumn]
  names.forEach((name, i) => {
    if (i > 0) out.writeByte(COMMA)
    const bytes = textEncoder.encode(name)
    writeField(out, bytes, 0, bytes.length, escapeFormulas)
  })
  out.writeByte(LF)
}

/** Writes `YYYY-MM-DD` for a date code (see values.ts). */
export function writeDate(out: ByteWriter, code: number): void {
  const buf = out.ensure(10)
  let at = out.offset
  const year = Math.floor(code / 512)
  const month = (code >> 5) & 15
  const day = code & 31
  buf[at++] = 48 + Math.floor(year / 1000)
  buf[at++] = 48 + (Math.floor(year / 100) % 10)
  buf[at++] = 48 + (Math.floor(year / 10) % 10)
  buf[at++] = 48 + (year % 10)
  buf[at++] = 0x2d
  buf[at++] = 48 + Math.floor(month / 10)
  buf[at++] = 48 + (month % 10)
  buf[at++] = 0x2d
  buf[at++] = 48 + Math.floor(day / 10)
  buf[at++] = 48 + (day % 10)
  out.advance(10)
}

const digits = new Uint8Array(24)

/** Writes a non-negative integer below 2^53 in decimal. */
export function writeCount(out: ByteWriter, value: number): void {
  let n = 0
  do {
    digits[n++] = 48 + (value % 10)
    value = Math.floor(value / 10)
  } while (value > 0)
  const buf = out.ensure(n)
  let at = out.offset
  while (n > 0) buf[at++] = digits[--n]!
  out.advance(at - out.offset)
}

/** Writes the rows of `table` in the order given (group indices). */
export function writeGroups(
  out: ByteWriter,
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  order: Uint32Array,
  escapeFormulas = false,
): void {
  for (let i = 0; i < order.length; i++)
    writeGroup(out, table, dictionaries, order[i]!, escapeFormulas)
}

/** The bytes `writeField` writes for each value of a dictionary, by id (shared memory). */
export function dictionaryFieldBytes(
  dictionary: ByteDictionary,
  escapeFormulas = false,
): Int32Array {
  const bytes = sharedInt32(dictionary.size)
  for (let id = 0; id < dictionary.size; id++) {
    const at = dictionary.offsetOf(id)
    bytes[id] = fieldBytes(dictionary.arenaOf(id), at, at + dictionary.lengthOf(id), escapeFormulas)
  }
  return bytes
}

/**
 * The bytes `writeGroup` writes for group `g`, given each text column's `dictionaryFieldBytes`
 * (undefined for a date column).
 */
export function groupRowBytes(
  table: GroupTable,
  g: number,
  fieldBytes: readonly (Int32Array | undefined)[],
): number {
  const width = table.width
  // A comma after each group column, LF at the end.
  let bytes = width + 1
  for (let k = 0; k < width; k++) {
    const text = fieldBytes[k]
    bytes += text === undefined ? 10 : text[table.keyOf(g, k)]!
  }
  let sum = table.sumOf(g)
  if (Number.isNaN(sum)) return bytes + table.sumText(g).length
  bytes++
  while (sum >= 10) {
    sum = Math.floor(sum / 10)
    bytes++
  }
  return bytes
}

/** Writes the output row of group `g`. */
export function writeGroup(
  out: ByteWriter,
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  g: number,
  escapeFormulas = false,
): void {
  const width = table.width
  for (let k = 0; k < width; k++) {
    const id = table.keyOf(g, k)
    const dictionary = dictionaries[k]
    if (dictionary === undefined) writeDate(out, id)
    else {
      const at = dictionary.offsetOf(id)
      writeField(out, dictionary.arenaOf(id), at, at + dictionary.lengthOf(id), escapeFormulas)
    }
    out.writeByte(COMMA)
  }
  const sum = table.sumOf(g)
  if (Number.isNaN(sum)) out.write(textEncoder.encode(table.sumText(g)))
  else writeCount(out, sum)
  out.writeByte(LF)
}
