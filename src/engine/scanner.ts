/**
 * Finds the fields of one CSV row (RFC 4180) in a byte buffer, without creating strings.
 *
 * `scan()` looks at the bytes from `pos` and reports one of: a row (its fields in `starts`,
 * `ends` and `quoting`), a blank line, or that the row continues past `end` and more bytes are
 * needed. Only LF ends a row; a CR right before it is part of the line end. Quotes open a quoted
 * field only at the start of a field (after spaces or tabs); anywhere else a quote, like a lone
 * CR, is kept as data and the row is marked bad, so one broken row never swallows the next.
 */
import { COMMA, CR, LF, QUOTE, SPACE, TAB } from './bytes.js'

export const SCAN_ROW = 0
export const SCAN_BLANK = 1
export const SCAN_NEED_MORE = 2

/** Field quoting, as stored in `quoting`. */
export const UNQUOTED = 0
export const QUOTED = 1
/** Quoted and holding `""` pairs: the value must be unescaped before use. */
export const QUOTED_ESCAPED = 2

/** Row-level scan errors, as stored in `error`. */
export const SCAN_OK = 0
export const SCAN_BAD_QUOTE = 1
export const SCAN_UNTERMINATED_QUOTE = 2
export const SCAN_BAD_LINE_END = 3

export class RowScanner {
  starts: Int32Array
  ends: Int32Array
  quoting: Uint8Array
  /** Record every field, growing the arrays (for the header); else only the first `capacity`. */
  growable: boolean
  fieldCount = 0
  /** End of the row's content, before its line end. */
  rowEnd = 0
  /** Position just after the row's line end. */
  next = 0
  /** LF bytes inside the row, its line end included. */
  newlines = 0
  error = SCAN_OK
  /** Index of the field where `error` was found. */
  errorField = -1

  /** With `growable`, the most fields recorded (more are only counted). */
  readonly maxFields: number

  constructor(capacity: number, growable = false, maxFields = capacity) {
    this.maxFields = maxFields
    this.starts = new Int32Array(capacity)
    this.ends = new Int32Array(capacity)
    this.quoting = new Uint8Array(capacity)
    this.growable = growable
  }

  scan(buf: Uint8Array, pos: number, end: number, final: boolean): number {
    let p = pos
    const first = buf[p]
    if (first === LF) {
      this.next = p + 1
      this.newlines = 1
      return SCAN_BLANK
    }
    if (first === CR) {
      if (p + 1 >= end) {
        if (!final) return SCAN_NEED_MORE
        this.next = end
        this.newlines = 0
        return SCAN_BLANK
      }
      if (buf[p + 1] === LF) {
        this.next = p + 2
        this.newlines = 1
        return SCAN_BLANK
      }
    }
    if (this.scanPlain(buf, pos, end)) return SCAN_ROW
    let fieldCount = 0
    let newlines = 0
    this.error = SCAN_OK
    this.errorField = -1
    for (;;) {
      while (p < end && (buf[p] === SPACE || buf[p] === TAB)) p++
      let fieldStart = p
      let fieldEnd: number
      let quoting = UNQUOTED
      let garbage = false
      if (p < end && buf[p] === QUOTE) {
        p++
        fieldStart = p
        quoting = QUOTED
        for (;;) {
          while (p < end) {
            const c = buf[p]
            if (c === QUOTE) break
            if (c === LF) newlines++
            p++
          }
          if (p + 1 >= end) {
            if (!final) return SCAN_NEED_MORE
            if (p >= end) {
              // End of input inside quotes: the field runs to the end of the file.
              this.markError(SCAN_UNTERMINATED_QUOTE, fieldCount)
              fieldEnd = end
              break
            }
          } else if (buf[p + 1] === QUOTE) {
            quoting = QUOTED_ESCAPED
            p += 2
            continue
          }
          fieldEnd = p
          p++
          break
        }
        while (p < end && (buf[p] === SPACE || buf[p] === TAB)) p++
        if (p < end) {
          const c = buf[p]
          if (c !== COMMA && c !== LF && !(c === CR && (p + 1 >= end || buf[p + 1] === LF))) {
            this.markError(c === CR ? SCAN_BAD_LINE_END : SCAN_BAD_QUOTE, fieldCount)
            garbage = true
          }
        } else if (!final) {
          return SCAN_NEED_MORE
        }
      } else {
        garbage = true
        fieldEnd = 0
      }
      if (garbage) {
        // Unquoted text (or text after a closing quote): runs to the next comma or line end.
        for (;;) {
          // Most bytes are letters and digits, above the comma: one compare for them.
          while (p < end) {
            const c = buf[p]!
            if (c > COMMA || (c !== COMMA && c !== QUOTE && c !== LF && c !== CR)) p++
            else break
          }
          if (p >= end) break
          const c = buf[p]
          if (c === QUOTE) {
            this.markError(SCAN_BAD_QUOTE, fieldCount)
            p++
            continue
          }
          if (c === CR) {
            if (p + 1 >= end) {
              if (!final) return SCAN_NEED_MORE
              break
            }
            if (buf[p + 1] !== LF) {
              this.markError(SCAN_BAD_LINE_END, fieldCount)
              p++
              continue
            }
          }
          break
        }
        if (p >= end && !final) return SCAN_NEED_MORE
        if (quoting === UNQUOTED) fieldEnd = p
      }
      if (fieldCount >= this.starts.length && this.growable && fieldCount < this.maxFields) {
        this.grow()
      }
      if (fieldCount < this.starts.length) {
        this.starts[fieldCount] = fieldStart
        this.ends[fieldCount] = fieldEnd!
        this.quoting[fieldCount] = quoting
      }
      fieldCount++
      if (p >= end) {
        // Final row without a line end.
        this.rowEnd = end
        this.next = end
        break
      }
      const c = buf[p]
      if (c === COMMA) {
        p++
        continue
      }
      if (c === CR && p + 1 >= end && !final) return SCAN_NEED_MORE
      this.rowEnd = p
      if (c === CR) {
        this.next = p + 1 < end ? p + 2 : p + 1
        if (p + 1 < end) newlines++
      } else {
        this.next = p + 1
        newlines++
      }
      break
    }
    this.fieldCount = fieldCount
    this.newlines = newlines
    return SCAN_ROW
  }

  /**
   * The fast path for the common row: no quotes, no lone CR, complete within `end`. Needs a
   * sentinel LF at `buf[end]` (see Aggregator), so the byte loop has no bounds check. Returns
   * false, having changed nothing that matters, when the row needs the general path.
   */
  private scanPlain(buf: Uint8Array, pos: number, end: number): boolean {
    const starts = this.starts
    const ends = this.ends
    const capacity = starts.length
    let p = pos
    let fieldStart = pos
    let fieldCount = 0
    for (;;) {
      const c = buf[p]!
      if (c > COMMA) {
        p++
        continue
      }
      if (c === COMMA) {
        if (fieldCount < capacity) {
          starts[fieldCount] = fieldStart
          ends[fieldCount] = p
        }
        fieldCount++
        p++
        fieldStart = p
        continue
      }
      if (c === LF) {
        if (p >= end) return false
        this.rowEnd = p
        this.next = p + 1
        break
      }
      if (c === CR) {
        if (p + 1 >= end || buf[p + 1] !== LF) return false
        this.rowEnd = p
        this.next = p + 2
        break
      }
      if (c === QUOTE) return false
      p++
    }
    if (fieldCount >= capacity && this.growable && fieldCount < this.maxFields) return false
    if (fieldCount < capacity) {
      starts[fieldCount] = fieldStart
      ends[fieldCount] = this.rowEnd
    }
    fieldCount++
    this.fieldCount = fieldCount
    const quoting = this.quoting
    for (let i = Math.min(fieldCount, capacity) - 1; i >= 0; i--) quoting[i] = UNQUOTED
    this.newlines = 1
    this.error = SCAN_OK
    this.errorField = -1
    return true
  }

  private markError(error: number, field: number): void {
    if (this.error === SCAN_OK) {
      this.error = error
      this.errorField = field
    }
  }

  private grow(): void {
    const capacity = this.starts.length * 2
    const starts = new Int32Array(capacity)
    starts.set(this.starts)
    const ends = new Int32Array(capacity)
    ends.set(this.ends)
    const quoting = new Uint8Array(capacity)
    quoting.set(this.quoting)
    this.starts = starts
    this.ends = ends
    this.quoting = quoting
  }
}

/** Copies the value of a `QUOTED_ESCAPED` field into `out`, turning `""` into `"`. */
export function unescapeInto(buf: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let n = 0
  for (let i = start; i < end; i++) {
    const c = buf[i]!
    out[n++] = c
    if (c === QUOTE) i++
  }
  return n
}

/** The end of an unquoted field's value once trailing spaces and tabs are trimmed. */
export function trimStart(buf: Uint8Array, start: number, end: number): number {
  while (start < end && (buf[start] === SPACE || buf[start] === TAB)) start++
  return start
}

export function trimEnd(buf: Uint8Array, start: number, end: number): number {
  while (end > start && (buf[end - 1] === SPACE || buf[end - 1] === TAB)) end--
  return end
}
