/**
 * Checks that two aggregated CSVs (`Song,Date,Total`) hold the same totals, whatever their row
 * order and quoting. Files are parsed with a full RFC 4180 reader (quoted fields, `""`, commas
 * and line breaks inside quotes, LF or CRLF). Totals are compared as digit strings, so no
 * number is rounded. Keys are split into partitions by hash, one pass per partition, so the
 * map held in memory stays at a few million entries however large the outputs are.
 */
import { createReadStream, statSync } from 'node:fs'

export interface TotalsComparison {
  /** Rows of the reference file (header excluded). */
  groups: number
  /** Human-readable differences, at most `maxDifferences`. */
  differences: string[]
  differenceCount: number
}

const PARTITION_BYTES = 256e6

export async function compareTotals(
  referencePath: string,
  actualPath: string,
  maxDifferences = 20,
): Promise<TotalsComparison> {
  const partitions = Math.max(1, Math.ceil(statSync(actualPath).size / PARTITION_BYTES))
  const differences: string[] = []
  let differenceCount = 0
  let groups = 0
  const differ = (message: string) => {
    differenceCount++
    if (differences.length < maxDifferences) differences.push(message)
  }
  const headers: string[][] = []
  for (let partition = 0; partition < partitions; partition++) {
    const inPartition = (key: string) => partitions === 1 || hash(key) % partitions === partition
    const actual = new Map<string, string>()
    await forEachRecord(actualPath, (fields, index) => {
      if (index === 0) {
        if (partition === 0) headers.push(fields)
        return
      }
      const [song, date, total] = fields
      const key = `${song}\u0000${date}`
      if (fields.length !== 3) {
        if (partition === 0) differ(`actual: row ${index + 1} has ${fields.length} fields`)
      } else if (!inPartition(key)) return
      else if (actual.has(key)) differ(`actual: ${describe(song, date)} appears twice`)
      else actual.set(key, total)
    })
    await forEachRecord(referencePath, (fields, index) => {
      if (index === 0) {
        if (partition === 0) headers.push(fields)
        return
      }
      if (partition === 0) groups++
      const [song, date, total] = fields
      const key = `${song}\u0000${date}`
      if (fields.length !== 3) {
        if (partition === 0) differ(`reference: row ${index + 1} has ${fields.length} fields`)
      } else if (!inPartition(key)) return
      else if (!actual.has(key)) differ(`${describe(song, date)}: missing (reference ${total})`)
      else if (actual.get(key) !== total) {
        differ(`${describe(song, date)}: ${actual.get(key)}, reference ${total}`)
      }
      actual.delete(key)
    })
    for (const [key, total] of actual) {
      const [song, date] = key.split('\u0000')
      differ(`${describe(song, date)}: ${total}, not in the reference`)
    }
  }
  if (headers[0]?.join(',') !== headers[1]?.join(',')) {
    differ(`headers differ: ${JSON.stringify(headers[0])} vs ${JSON.stringify(headers[1])}`)
  }
  return { groups, differences, differenceCount }
}

function describe(song: string, date: string): string {
  return `${JSON.stringify(song)} ${date}`
}

/** FNV-1a over UTF-16 code units: cheap and spread enough to partition keys. */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

const COMMA = 0x2c
const QUOTE = 0x22
const LF = 0x0a
const CR = 0x0d

const FIELD_START = 0
const UNQUOTED = 1
const QUOTED = 2
/** A quote seen inside a quoted field: either the closing one or the first of `""`. */
const QUOTE_IN_QUOTED = 3

/** Calls `onRecord` for every record of the file (index 0 is the header); blank lines skipped. */
export async function forEachRecord(
  path: string,
  onRecord: (fields: string[], index: number) => void,
  chunkBytes = 1 << 20,
): Promise<void> {
  let state = FIELD_START
  let fields: string[] = []
  /** Bytes of the current field from earlier chunks or before a `""`. */
  let parts: Uint8Array[] = []
  let index = 0
  let afterCr = false

  const endRecord = () => {
    // A lone empty field is a blank line.
    if (!(fields.length === 1 && fields[0] === '')) onRecord(fields, index++)
    fields = []
  }

  const chunks = createReadStream(path, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>
  for await (const chunk of chunks) {
    let start = 0
    const takeField = (end: number) => {
      if (parts.length === 0) fields.push(chunk.toString('utf8', start, end))
      else {
        parts.push(chunk.subarray(start, end))
        fields.push(Buffer.concat(parts).toString('utf8'))
        parts = []
      }
    }
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]
      if (afterCr) {
        afterCr = false
        if (byte === LF) {
          start = i + 1
          continue
        }
      }
      if (state === QUOTED) {
        if (byte === QUOTE) {
          parts.push(chunk.subarray(start, i))
          start = i + 1
          state = QUOTE_IN_QUOTED
        }
        continue
      }
      if (state === FIELD_START) {
        if (byte === QUOTE) {
          state = QUOTED
          start = i + 1
          continue
        }
        start = i
        state = UNQUOTED
      } else if (state === QUOTE_IN_QUOTED && byte === QUOTE) {
        // `""`: this quote is content; the field goes on from here.
        start = i
        state = QUOTED
        continue
      }
      if (byte === COMMA || byte === LF || byte === CR) {
        takeField(i)
        state = FIELD_START
        if (byte !== COMMA) {
          endRecord()
          afterCr = byte === CR
        }
      } else if (state === QUOTE_IN_QUOTED) {
        throw new Error(`${path}: record ${index + 1}: text after a closing quote`)
      }
    }
    if (state === UNQUOTED || state === QUOTED) parts.push(chunk.subarray(start))
  }
  if (state === QUOTED) throw new Error(`${path}: unterminated quoted field at the end`)
  if (state !== FIELD_START || fields.length > 0) {
    fields.push(Buffer.concat(parts).toString('utf8'))
    parts = []
    endRecord()
  }
}
