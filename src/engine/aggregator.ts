/**
 * The push parser: bytes in (in chunks of any size), groups out. Owns the byte buffer, the line
 * count and the header; hands each row's fields to the group phase (`RowAggregator`).
 *
 *   scan (scanner.ts)  ->  row checks + values (here)  ->  group table (group-table.ts)
 *
 * A row cut by the end of a chunk stays in the buffer and is scanned again when more bytes
 * arrive; a long row is retried only once the buffer has doubled, so rows of any size cost
 * linear time. The aggregator can also start in the middle of a file (a byte range of a split
 * file, with the header's layout given) and stop at the first row at or after a given offset.
 */
import {
  COMMA,
  CR,
  combineHash,
  FNV_OFFSET,
  FNV_PRIME,
  hashBytes,
  isValidUtf8,
  LF,
  mix32,
  QUOTE,
  SPACE,
  strictDecoder,
  TAB,
  textDecoder,
} from './bytes.js'
import { ByteDictionary } from './dictionary.js'
import { EngineError, quoteForMessage, type RowErrorCode, rowErrorMessage } from './errors.js'
import { GroupTable } from './group-table.js'
import { type ColumnLayout, resolveLayout, sniffBinary } from './header.js'
import {
  QUOTED_ESCAPED,
  RowScanner,
  SCAN_BAD_LINE_END,
  SCAN_BAD_QUOTE,
  SCAN_BLANK,
  SCAN_NEED_MORE,
  SCAN_OK,
  SCAN_UNTERMINATED_QUOTE,
  trimEnd,
  trimStart,
  UNQUOTED,
  unescapeInto,
} from './scanner.js'
import type { AggregateSpec } from './spec.js'
import { BAD_VALUE, parseBigCount, parseCount, parseDate } from './values.js'

export const DEFAULT_MAX_ROW_BYTES = 64 * 1024 * 1024
const MAX_HEADER_FIELDS = 100_000
const FIRST_REJECTS_KEPT = 3
/** Past this many groups, rows are staged and added partition by partition. */
const STAGE_AFTER_GROUPS = 1 << 17
/** Rows staged before they are added partition by partition. */
const STAGE_ROWS = 1 << 16

/** What a field is to the fast path (`plainRow`), by field index; 0 for a field no column needs. */
const FIELD_TEXT = 1
const FIELD_DATE = 2
const FIELD_SUM = 3
/** The most digits the fast path sums as a double; longer counts take the general path. */
const FAST_DIGITS = 15

/** A row left out under `on_error=skip`. */
export interface RejectedRow {
  line: number
  code: RowErrorCode
  column: string | undefined
  /** What was wrong, without the `line N, column C:` prefix (see `rowErrorMessage`). */
  reason: string
  /** The row as written, without its line end. */
  raw: Uint8Array
}

export type RejectSummary = Omit<RejectedRow, 'raw'>

/**
 * Takes rows of a partition another thread owns (see parallel/row-exchange.ts): their group
 * values, read from `buf`. False when it cannot take one; the row is then added here.
 */
export interface ForeignRowSink {
  add(
    hash: number,
    key: Int32Array,
    buf: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    hashes: Int32Array,
    value: number,
    offset: number,
  ): boolean
}

/** Rows another thread read for this one (a slot of a ring in parallel/row-exchange.ts). */
export interface ForeignRows {
  rows: number
  /** Per row: the group hash, then per group column a date code, or [value hash, start, end]. */
  ints: Int32Array
  /** Per row: the count, then the row's offset in the input. */
  numbers: Float64Array
  /** Holds the text values at the `[start, end)` of `ints`. */
  bytes: Uint8Array
}

export interface AggregatorOptions {
  /** The header's layout, when the input starts after the header (a range of a split file). */
  layout?: ColumnLayout
  /** Absolute file offset of the first byte pushed. */
  startOffset?: number
  /** Stop before the first row that starts at or after this absolute offset. */
  stopOffset?: number
  /** Line number of the first byte pushed. */
  firstLine?: number
  maxRowBytes?: number
  /** Receives each row rejected under `on_error=skip`. */
  onReject?: (row: RejectedRow) => void
  /** Stop right after the header row (to learn the layout and where the data starts). */
  headerOnly?: boolean
  /**
   * Number of hash partitions of the groups (a power of two): one table each, so threads can
   * merge and write different partitions at the same time. Default 1.
   */
  partitions?: number
  /**
   * Per partition: where its plain rows go when another thread owns it (undefined: kept here).
   * Groups then arrive out of offset order, which `GroupTable` allows for.
   */
  foreign?: (ForeignRowSink | undefined)[]
}

export interface AggregateCounters {
  /** Bytes consumed so far, header included. */
  bytes: number
  /** Data rows seen (accepted + rejected); blank lines are not rows. */
  rows: number
  rejected: number
}

/** Everything a finished (or stopped) aggregator knows: what the merge and the writer need. */
export interface AggregateState {
  layout: ColumnLayout | undefined
  /** One dictionary per group column; undefined for date columns. */
  dictionaries: (ByteDictionary | undefined)[]
  /** One table per partition. */
  tables: GroupTable[]
  counters: AggregateCounters
  /** Lines seen (physical LF count) from the start of this aggregator's input. */
  lines: number
  /** Absolute offset where this aggregator stopped: the next row's start. */
  endOffset: number
  firstRejects: RejectSummary[]
}

/** A line of spaces and tabs is a blank line, not a row of one empty field. */
function isBlankRow(s: RowScanner, buf: Uint8Array): boolean {
  return (
    s.fieldCount === 1 &&
    s.quoting[0] === UNQUOTED &&
    trimStart(buf, s.starts[0]!, s.ends[0]!) === s.ends[0]
  )
}

export class Aggregator {
  readonly spec: AggregateSpec
  private readonly options: AggregatorOptions
  private layout: ColumnLayout | undefined
  private dictionaries: (ByteDictionary | undefined)[] = []
  private tables: GroupTable[]
  /** Right shift from a group hash to its partition; -1 with a single partition. */
  private readonly partitionShift: number
  private readonly foreign: (ForeignRowSink | undefined)[] | undefined
  private readonly tableGroups: number
  /** Rows waiting to be added: [hash, key...] in `stageInts`, their count and offset. */
  private readonly stageInts: Int32Array
  private readonly stageValues: Float64Array
  private readonly stageOffsets: Float64Array
  private readonly stageOrder: Int32Array
  private readonly stageCounts: Int32Array
  private staged = 0
  private staging = false
  private directGroups = 0
  private scanner: RowScanner
  private readonly key: Int32Array
  /** Per group column: its field index, and 1 when it holds dates. */
  private groupFields = new Int32Array(0)
  private groupIsDate = new Uint8Array(0)
  private hasText = false
  /** Per field: its FIELD_* role, and its group column (for text and date fields). */
  private fieldRoles = new Uint8Array(0)
  private fieldGroups = new Int32Array(0)
  /** Value hashes of the current row's text columns (fast path). */
  private readonly valueHashes: Int32Array
  private sumField = 0
  private fieldCount = 0
  /** Trimmed value bounds of the current row: group columns, then the sum column. */
  private readonly valueStarts: Int32Array
  private readonly valueEnds: Int32Array
  private scratch = new Uint8Array(1024)
  private readonly maxRowBytes: number

  private buf = new Uint8Array(256 * 1024)
  private head = 0
  private tail = 0
  /** Absolute offset of `buf[0]`. */
  private base: number
  private retryAt = 0
  private line: number
  private readonly firstLine: number
  private stopped = false
  private readonly stopAt: number
  /** Where the data rows start (after the header), once the header was read. */
  dataStart = -1
  /** Line number at `dataStart`. */
  dataLine = -1
  private ended = false
  private atFileStart: boolean

  readonly counters: AggregateCounters = { bytes: 0, rows: 0, rejected: 0 }
  private readonly firstRejects: RejectSummary[] = []

  constructor(spec: AggregateSpec, options: AggregatorOptions = {}) {
    this.spec = spec
    this.options = options
    this.base = options.startOffset ?? 0
    this.stopAt = options.stopOffset ?? Number.POSITIVE_INFINITY
    this.firstLine = options.firstLine ?? 1
    this.line = this.firstLine
    this.maxRowBytes = options.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES
    this.atFileStart = options.layout === undefined && this.base === 0
    this.key = new Int32Array(spec.groupBy.length)
    this.valueStarts = new Int32Array(spec.groupBy.length + 1)
    this.valueEnds = new Int32Array(spec.groupBy.length + 1)
    this.valueHashes = new Int32Array(spec.groupBy.length)
    const partitions = options.partitions ?? 1
    if (!Number.isInteger(Math.log2(partitions)))
      throw new Error('partitions must be a power of two')
    this.partitionShift = partitions === 1 ? -1 : 32 - Math.log2(partitions)
    this.foreign = options.foreign
    if (this.foreign && this.foreign.length !== partitions)
      throw new Error('foreign must have one entry per partition')
    this.tableGroups = partitions === 1 ? 4096 : 64
    this.tables = Array.from({ length: partitions }, () => {
      const table = new GroupTable(spec.groupBy.length, this.tableGroups)
      table.outOfOrder = this.foreign !== undefined
      return table
    })
    const width = spec.groupBy.length
    const stageRows = partitions === 1 ? 0 : STAGE_ROWS
    this.stageInts = new Int32Array(stageRows * (width + 1))
    this.stageValues = new Float64Array(stageRows)
    this.stageOffsets = new Float64Array(stageRows)
    this.stageOrder = new Int32Array(stageRows)
    this.stageCounts = new Int32Array(partitions + 1)
    if (options.layout) this.useLayout(options.layout)
    this.scanner = options.layout
      ? new RowScanner(options.layout.fieldCount)
      : new RowScanner(64, true, MAX_HEADER_FIELDS + 1)
  }

  /** The header's layout, once read (or as given). */
  get columnLayout(): ColumnLayout | undefined {
    return this.layout
  }

  /** True once the row at `stopOffset` was reached: further bytes are not needed. */
  get done(): boolean {
    return this.stopped
  }

  push(chunk: Uint8Array): void {
    const target = this.reserve(chunk.length)
    target.set(chunk, this.tail)
    this.commit(chunk.length)
  }

  /** A region of at least `length` free bytes at `tail`, to read input into directly. */
  reserve(length: number): Uint8Array {
    // One byte more than asked: room for the scanner's sentinel.
    if (this.tail + length + 1 > this.buf.length) {
      const live = this.tail - this.head
      if (live + length + 1 > this.buf.length || this.head === 0) {
        let capacity = this.buf.length
        while (capacity < live + length + 1) capacity *= 2
        const next = new Uint8Array(capacity)
        next.set(this.buf.subarray(this.head, this.tail))
        this.buf = next
      } else {
        this.buf.copyWithin(0, this.head, this.tail)
      }
      this.base += this.head
      this.retryAt -= this.head
      this.tail = live
      this.head = 0
    }
    return this.buf
  }

  /** Bytes written with `reserve` are now part of the input. */
  get writeOffset(): number {
    return this.tail
  }

  commit(length: number): void {
    if (this.ended) throw new Error('Aggregator: push after end()')
    this.tail += length
    if (this.stopped || this.tail < this.retryAt) return
    this.consume(false)
  }

  end(): AggregateState {
    if (!this.ended) {
      this.ended = true
      if (!this.stopped) this.consume(true)
      if (this.layout === undefined && this.options.layout === undefined) {
        throw new EngineError(
          'CSV_EMPTY_FILE',
          'the file is empty: expected a header row with the columns ' +
            [...this.spec.groupBy.map((c) => c.name), this.spec.sum.name]
              .map((n) => quoteForMessage(n))
              .join(', '),
        )
      }
    }
    return this.state()
  }

  state(): AggregateState {
    this.flushStage()
    return {
      layout: this.layout,
      dictionaries: this.dictionaries,
      tables: this.tables,
      counters: { ...this.counters },
      lines: this.line - this.firstLine,
      endOffset: this.base + this.head,
      firstRejects: [...this.firstRejects],
    }
  }

  /** Groups so far (rows still staged not counted). */
  get groupCount(): number {
    let groups = 0
    for (const table of this.tables) groups += table.size
    return groups
  }

  /** Memory held by the groups, for the memory budget. */
  get groupBytes(): number {
    let bytes = 0
    for (const table of this.tables) bytes += table.byteSize
    for (const d of this.dictionaries) if (d) bytes += d.byteSize
    return bytes
  }

  /** Bytes of the group arrays, free room included (what garbage collection cannot free). */
  get arrayBytes(): number {
    let bytes = 0
    for (const table of this.tables) bytes += table.arrayBytes
    for (const d of this.dictionaries) if (d) bytes += d.arrayBytes
    return bytes
  }

  /**
   * Drops every group (after they were spilled to disk): memory starts over, while counters,
   * line numbers and the position in the input go on.
   */
  resetGroups(): void {
    this.flushStage()
    for (const table of this.tables) table.clear()
    for (const dictionary of this.dictionaries) dictionary?.clear()
  }

  private useLayout(layout: ColumnLayout): void {
    this.layout = layout
    this.groupFields = Int32Array.from(layout.groupIndexes)
    this.groupIsDate = Uint8Array.from(layout.groupKinds, (k) => (k === 'date' ? 1 : 0))
    this.hasText = layout.groupKinds.includes('text')
    this.sumField = layout.sumIndex
    this.fieldCount = layout.fieldCount
    this.fieldRoles = new Uint8Array(layout.fieldCount)
    this.fieldGroups = new Int32Array(layout.fieldCount)
    layout.groupIndexes.forEach((field, k) => {
      this.fieldRoles[field] = layout.groupKinds[k] === 'date' ? FIELD_DATE : FIELD_TEXT
      this.fieldGroups[field] = k
    })
    this.fieldRoles[layout.sumIndex] = FIELD_SUM
    this.dictionaries = layout.groupKinds.map((k) =>
      k === 'text' ? new ByteDictionary() : undefined,
    )
  }

  private consume(final: boolean): void {
    if (this.atFileStart && !this.checkFileStart(final)) return
    const buf = this.buf
    const tail = this.tail
    let pos = this.head
    buf[tail] = LF
    if (this.layout === undefined) pos = this.consumeHeader(buf, pos, tail, final)
    if (this.layout !== undefined && !this.stopped) pos = this.consumeRows(buf, pos, tail, final)
    this.counters.bytes += pos - this.head
    this.head = pos
    if (!final && !this.stopped) {
      const pending = tail - pos
      if (pending > this.maxRowBytes) {
        const reason = `a row is longer than ${this.maxRowBytes} bytes (is a quote left open?)`
        throw new EngineError('CSV_ROW_TOO_LARGE', rowErrorMessage(this.line, undefined, reason), {
          line: this.line,
          reason,
        })
      }
      // Scan a long unfinished row again only when twice as many bytes are here.
      this.retryAt = pending > 64 * 1024 ? tail + pending : 0
    }
  }

  /** Skips blank lines up to the header row and reads it; returns the position after it. */
  private consumeHeader(buf: Uint8Array, pos: number, tail: number, final: boolean): number {
    const scanner = this.scanner
    while (pos < tail) {
      const result = scanner.scan(buf, pos, tail, final)
      if (result === SCAN_NEED_MORE) break
      const line = this.line
      this.line += scanner.newlines
      pos = scanner.next
      if (result === SCAN_BLANK || isBlankRow(scanner, buf)) continue
      this.readHeader(buf, line)
      this.dataStart = this.base + pos
      this.dataLine = this.line
      if (this.options.headerOnly) this.stopped = true
      break
    }
    return pos
  }

  /** The hot loop: rows until the end of the bytes, or the stop offset. */
  private consumeRows(buf: Uint8Array, pos: number, tail: number, final: boolean): number {
    const scanner = this.scanner
    const stopAt = this.stopAt - this.base
    let line = this.line
    while (pos < tail) {
      if (pos >= stopAt) {
        this.stopped = true
        break
      }
      const next = this.plainRow(buf, pos, tail)
      if (next !== -1) {
        line++
        pos = next
        continue
      }
      this.line = line
      const result = scanner.scan(buf, pos, tail, final)
      if (result === SCAN_NEED_MORE) break
      const rowLine = line
      line += scanner.newlines
      this.line = line
      if (result !== SCAN_BLANK) this.row(buf, pos, rowLine)
      pos = scanner.next
    }
    this.line = line
    return pos
  }

  /**
   * The fast path for the common row: every field unquoted, without spaces at its edges,
   * every value valid, complete before `tail`. Reads each byte once: the text values are hashed,
   * the date parsed and the count summed while the fields are found. Returns where the next row
   * starts, or -1, having changed nothing, when the row needs the general path (which also
   * gives rejected rows their precise reasons). Relies on the sentinel LF at `buf[tail]`.
   */
  private plainRow(buf: Uint8Array, pos: number, tail: number): number {
    const roles = this.fieldRoles
    const groups = this.fieldGroups
    const fieldCount = this.fieldCount
    const key = this.key
    const valueStarts = this.valueStarts
    const valueEnds = this.valueEnds
    const valueHashes = this.valueHashes
    let value = 0
    let p = pos
    let next = 0
    for (let f = 0; ; ) {
      const role = roles[f]!
      const start = p
      let c = buf[p]!
      if (role === FIELD_TEXT) {
        let h = FNV_OFFSET
        // Bytes above the comma are letters, digits and UTF-8: one compare for most of them.
        while (c > COMMA || (c !== COMMA && c !== LF && c !== QUOTE && c !== CR)) {
          h = Math.imul(h ^ c, FNV_PRIME)
          c = buf[++p]!
        }
        if (p === start) return -1
        const first = buf[start]
        const last = buf[p - 1]
        if (first === SPACE || first === TAB || last === SPACE || last === TAB) return -1
        const k = groups[f]!
        valueStarts[k] = start
        valueEnds[k] = p
        valueHashes[k] = mix32(h)
      } else if (role === FIELD_DATE) {
        if (p + 10 >= tail) return -1
        const code = parseDate(buf, p, p + 10)
        if (code === BAD_VALUE) return -1
        key[groups[f]!] = code
        p += 10
        c = buf[p]!
      } else if (role === FIELD_SUM) {
        let d = c - 48
        while (d >>> 0 <= 9) {
          value = value * 10 + d
          d = buf[++p]! - 48
        }
        if (p === start || p - start > FAST_DIGITS) return -1
        c = d + 48
      } else {
        while (c > COMMA || (c !== COMMA && c !== LF && c !== QUOTE && c !== CR)) c = buf[++p]!
      }
      f++
      if (c === COMMA) {
        if (f === fieldCount) return -1
        p++
        continue
      }
      if (f !== fieldCount) return -1
      if (c === LF) {
        if (p >= tail) return -1
        next = p + 1
        break
      }
      if (c === CR && buf[p + 1] === LF && p + 1 < tail) {
        next = p + 2
        break
      }
      return -1
    }

    const width = key.length
    const isDate = this.groupIsDate
    let hash = 0
    let textHash = 0
    for (let k = 0; k < width; k++) {
      if (isDate[k] === 1) {
        hash = combineHash(hash, key[k]!)
        continue
      }
      hash = combineHash(hash, valueHashes[k]!)
      textHash = combineHash(textHash, valueHashes[k]!)
    }
    hash = this.groupHash(hash, textHash)
    const foreign = this.foreign?.[hash >>> this.partitionShift]
    if (foreign?.add(hash, key, buf, valueStarts, valueEnds, valueHashes, value, this.base + pos)) {
      this.counters.rows++
      return next
    }
    for (let k = 0; k < width; k++) {
      if (isDate[k] === 1) continue
      const dictionary = this.dictionaries[k]!
      const start = valueStarts[k]!
      const end = valueEnds[k]!
      const valueHash = valueHashes[k]!
      let id = dictionary.find(buf, start, end, valueHash)
      if (id === -1) {
        if (!isValidUtf8(buf, start, end)) return -1
        id = dictionary.insert(buf, start, end, valueHash)
      }
      key[k] = id
    }
    this.counters.rows++
    this.addToGroup(hash, value, this.base + pos, buf, 0, 0)
    return next
  }

  /**
   * Adds rows another thread read (of partitions this one owns). Their text was checked there;
   * they count as rows where they were read, not here.
   */
  addForeign(rows: ForeignRows): void {
    const key = this.key
    const isDate = this.groupIsDate
    const dictionaries = this.dictionaries
    const { ints, numbers, bytes } = rows
    let at = 0
    for (let r = 0; r < rows.rows; r++) {
      const hash = ints[at++]!
      for (let k = 0; k < key.length; k++) {
        if (isDate[k] === 1) {
          key[k] = ints[at++]!
          continue
        }
        const valueHash = ints[at++]!
        const start = ints[at++]!
        const end = ints[at++]!
        const dictionary = dictionaries[k]!
        const id = dictionary.find(bytes, start, end, valueHash)
        key[k] = id === -1 ? dictionary.insert(bytes, start, end, valueHash) : id
      }
      this.addToGroup(hash, numbers[r * 2]!, numbers[r * 2 + 1]!, bytes, 0, 0)
    }
  }

  /** Skips a BOM and refuses binary files. False when more bytes are needed to tell. */
  private checkFileStart(final: boolean): boolean {
    const available = this.tail - this.head
    if (available < 8 && !final) return false
    const head = this.buf.subarray(this.head, Math.min(this.tail, this.head + 8))
    const what = sniffBinary(head)
    if (what !== undefined) {
      throw new EngineError('CSV_NOT_TEXT', `the file is not CSV text: it looks like ${what}`, {
        line: 1,
      })
    }
    if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
      this.head += 3
      this.counters.bytes += 3
    }
    this.atFileStart = false
    return true
  }

  private readHeader(buf: Uint8Array, line: number): void {
    const s = this.scanner
    const names: string[] = []
    if (s.fieldCount > MAX_HEADER_FIELDS) {
      throw new EngineError(
        'CSV_MISSING_COLUMNS',
        `line ${line}: the header has ${s.fieldCount} fields; expected at most ${MAX_HEADER_FIELDS}`,
        { line },
      )
    }
    for (let i = 0; i < s.fieldCount; i++) {
      let start = s.starts[i]!
      let end = s.ends[i]!
      if (s.quoting[i] === UNQUOTED) {
        start = trimStart(buf, start, end)
        end = trimEnd(buf, start, end)
      }
      if (s.quoting[i] === QUOTED_ESCAPED) {
        const bytes = new Uint8Array(end - start)
        end = unescapeInto(buf, start, end, bytes)
        buf = bytes
        start = 0
      }
      const bytes = buf.subarray(start, end)
      if (bytes.includes(0)) {
        throw new EngineError(
          'CSV_NOT_TEXT',
          `line ${line}: the header holds NUL bytes: the file is not CSV text`,
          { line },
        )
      }
      try {
        // Header names are trimmed even when quoted: `" Song "` is the Song column.
        names.push(strictDecoder.decode(bytes).replace(/^[ \t]+|[ \t]+$/g, ''))
      } catch {
        throw new EngineError('CSV_NOT_TEXT', `line ${line}: the header is not valid UTF-8 text`, {
          line,
        })
      }
      buf = this.buf
    }
    if (s.error === SCAN_BAD_LINE_END) {
      throw new EngineError(
        'CSV_MISSING_COLUMNS',
        `line ${line}: the header row holds a lone CR (carriage return): lines must end with LF or CRLF`,
        { line },
      )
    }
    if (s.error !== SCAN_OK) {
      throw new EngineError(
        'CSV_MISSING_COLUMNS',
        `line ${line}: the header row is not valid CSV: ${s.error === SCAN_UNTERMINATED_QUOTE ? 'a quoted name is never closed' : 'a quote appears inside an unquoted name'}`,
        { line },
      )
    }
    const layout = resolveLayout(this.spec, names, line)
    this.useLayout(layout)
    this.scanner = new RowScanner(layout.fieldCount)
  }

  /** The group phase for one data row: check, parse values, add to its group. */
  private row(buf: Uint8Array, rowStart: number, line: number): void {
    const s = this.scanner
    const starts = s.starts
    const ends = s.ends
    const quoting = s.quoting
    if (s.fieldCount !== this.fieldCount) {
      if (isBlankRow(s, buf)) return
      this.counters.rows++
      const reason = `expected ${this.fieldCount} fields, found ${s.fieldCount}`
      this.reject('CSV_FIELD_COUNT', undefined, reason, buf, rowStart, line)

      return
    }
    this.counters.rows++
    if (s.error !== SCAN_OK) {
      this.rejectScanError(buf, rowStart, line)
      return
    }

    // Values first, with no side effect, so a bad row leaves no trace in the dictionaries.
    const key = this.key
    const width = key.length
    const fields = this.groupFields
    const isDate = this.groupIsDate
    const valueStarts = this.valueStarts
    const valueEnds = this.valueEnds
    for (let k = 0; k < width; k++) {
      const i = fields[k]!
      let start = starts[i]!
      let end = ends[i]!
      if (quoting[i] === UNQUOTED) {
        start = trimStart(buf, start, end)
        end = trimEnd(buf, start, end)
      }
      valueStarts[k] = start
      valueEnds[k] = end
      if (isDate[k] === 1) {
        const code = parseDate(buf, start, end)
        if (code === BAD_VALUE) {
          this.rejectValue('CSV_BAD_DATE', k, buf, rowStart, line)
          return
        }
        key[k] = code
      } else if (start === end) {
        this.rejectValue('CSV_EMPTY_VALUE', k, buf, rowStart, line)

        return
      }
    }
    const sumField = this.sumField
    let sumStart = starts[sumField]!
    let sumEnd = ends[sumField]!
    if (quoting[sumField] === UNQUOTED) {
      sumStart = trimStart(buf, sumStart, sumEnd)
      sumEnd = trimEnd(buf, sumStart, sumEnd)
    }
    const value = parseCount(buf, sumStart, sumEnd)
    if (value === BAD_VALUE) {
      valueStarts[width] = sumStart
      valueEnds[width] = sumEnd
      this.rejectValue('CSV_BAD_NUMBER', width, buf, rowStart, line)

      return
    }

    let hash = 0
    let textHash = 0
    for (let k = 0; k < width; k++) {
      if (isDate[k] === 1) {
        hash = combineHash(hash, key[k]!)
        continue
      }
      const dictionary = this.dictionaries[k]!
      let source = buf
      let start = valueStarts[k]!
      let end = valueEnds[k]!
      if (quoting[fields[k]!] === QUOTED_ESCAPED) {
        if (this.scratch.length < end - start) this.scratch = new Uint8Array((end - start) * 2)
        source = this.scratch
        end = unescapeInto(buf, start, end, source)
        start = 0
      }
      const valueHash = hashBytes(source, start, end)
      let id = dictionary.find(source, start, end, valueHash)
      if (id === -1) {
        if (!isValidUtf8(source, start, end)) {
          this.rejectValue('CSV_BAD_TEXT', k, buf, rowStart, line)

          return
        }
        id = dictionary.insert(source, start, end, valueHash)
      }
      key[k] = id
      hash = combineHash(hash, valueHash)
      textHash = combineHash(textHash, valueHash)
    }
    this.addToGroup(
      this.groupHash(hash, textHash),
      value,
      this.base + rowStart,
      buf,
      sumStart,
      sumEnd,
    )
  }

  /**
   * A group's hash from the combined hashes of all its values and of its text values alone. Its
   * top byte, which picks the partition, comes from the text values (when there are any): all
   * groups of one song share a partition, so only the thread owning it looks the song up, keeps
   * it in its dictionary and writes it.
   */
  private groupHash(hash: number, textHash: number): number {
    if (!this.hasText) return mix32(hash)
    return (mix32(textHash) & 0xff000000) | (mix32(hash) & 0x00ffffff)
  }

  /**
   * Adds the current row (its key in `key`, its offset in the input `offset`) to its group. A
   * negative `value` means a count too long for a double: it is read again, exactly, from
   * `buf[sumStart, sumEnd)`.
   */
  private addToGroup(
    hash: number,
    value: number,
    offset: number,
    buf: Uint8Array,
    sumStart: number,
    sumEnd: number,
  ): void {
    const key = this.key
    const width = key.length
    const shift = this.partitionShift
    if (shift < 0) {
      const table = this.tables[0]!
      const g = table.findOrInsert(key, 0, hash, offset)
      if (value >= 0) table.add(g, value)
      else table.addBig(g, parseBigCount(buf, sumStart, sumEnd))
      return
    }
    if (value < 0) {
      // Rare: a count too long for a double. Staged rows go first, so first offsets stay right.
      this.flushStage()
      const table = this.tables[hash >>> shift]!
      table.addBig(table.findOrInsert(key, 0, hash, offset), parseBigCount(buf, sumStart, sumEnd))
      return
    }
    if (!this.staging) {
      // Few groups: they fit in cache anyway, and staging would only cost time.
      const table = this.tables[hash >>> shift]!
      const before = table.size
      table.add(table.findOrInsert(key, 0, hash, offset), value)
      if (table.size !== before && ++this.directGroups > STAGE_AFTER_GROUPS) this.staging = true
      return
    }
    // Staged, then added partition by partition: each partition's table stays in cache.
    const n = this.staged
    const ints = this.stageInts
    const at = n * (width + 1)
    ints[at] = hash
    for (let k = 0; k < width; k++) ints[at + 1 + k] = key[k]!
    this.stageValues[n] = value
    this.stageOffsets[n] = offset
    if (++this.staged === STAGE_ROWS) this.flushStage()
  }

  /** Adds the staged rows to their groups, sorted by partition (a stable counting sort). */
  private flushStage(): void {
    const n = this.staged
    if (n === 0) return
    this.staged = 0
    const stride = this.key.length + 1
    const ints = this.stageInts
    const shift = this.partitionShift
    const counts = this.stageCounts
    counts.fill(0)
    for (let i = 0; i < n; i++) counts[(ints[i * stride]! >>> shift) + 1]!++
    for (let p = 1; p < counts.length; p++) counts[p]! += counts[p - 1]!
    const order = this.stageOrder
    for (let i = 0; i < n; i++) order[counts[ints[i * stride]! >>> shift]!++] = i
    const tables = this.tables
    const values = this.stageValues
    const offsets = this.stageOffsets
    for (let j = 0; j < n; j++) {
      const i = order[j]!
      const at = i * stride
      const hash = ints[at]!
      const table = tables[hash >>> shift]!
      table.add(table.findOrInsert(ints, at + 1, hash, offsets[i]!), values[i]!)
    }
  }

  /** Rejects a row for the value of group column `k` (or the sum column when `k === width`). */
  private rejectValue(
    code: RowErrorCode,
    k: number,
    buf: Uint8Array,
    rowStart: number,
    line: number,
  ): void {
    const layout = this.layout!
    const column = k < this.key.length ? layout.groupNames[k] : layout.sumName
    const got = quoteForMessage(
      textDecoder.decode(buf.subarray(this.valueStarts[k], this.valueEnds[k])),
    )
    const reason =
      code === 'CSV_BAD_DATE'
        ? `expected a calendar date YYYY-MM-DD, got ${got}`
        : code === 'CSV_BAD_NUMBER'
          ? `expected a non-negative integer, got ${got}`
          : code === 'CSV_EMPTY_VALUE'
            ? 'expected a non-empty value'
            : 'expected UTF-8 text without NUL bytes'
    this.reject(code, column, reason, buf, rowStart, line)
  }

  private rejectScanError(buf: Uint8Array, rowStart: number, line: number): void {
    const s = this.scanner
    const column = this.layout!.header[s.errorField]
    let code: RowErrorCode
    let message: string
    if (s.error === SCAN_UNTERMINATED_QUOTE) {
      code = 'CSV_UNTERMINATED_QUOTE'
      message = 'a quoted field is never closed: the file ends inside quotes'
    } else if (s.error === SCAN_BAD_QUOTE) {
      code = 'CSV_BAD_QUOTE'
      message =
        s.quoting[s.errorField] === UNQUOTED
          ? 'unexpected quote inside an unquoted field; a field holding quotes must be enclosed in quotes, with each quote doubled'
          : 'unexpected text after a closing quote; expected a comma or the end of the line'
    } else {
      code = 'CSV_BAD_LINE_END'
      message = 'unexpected lone CR (carriage return); lines must end with LF or CRLF'
    }
    this.reject(code, column, message, buf, rowStart, line)
  }

  private reject(
    code: RowErrorCode,
    column: string | undefined,
    reason: string,
    buf: Uint8Array,
    rowStart: number,
    line: number,
  ): void {
    if (this.spec.onError === 'fail') {
      throw new EngineError(code, rowErrorMessage(line, column, reason), { line, column, reason })
    }
    this.counters.rejected++
    if (this.firstRejects.length < FIRST_REJECTS_KEPT) {
      this.firstRejects.push({ line, code, column, reason })
    }
    this.options.onReject?.({
      line,
      code,
      column,
      reason,
      raw: buf.slice(rowStart, this.scanner.rowEnd),
    })
  }
}
