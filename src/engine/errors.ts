/**
 * The engine's error catalogue. Every error a file can cause has a stable code, a message that
 * names the line, the column and what was expected, and is either fatal for the whole file
 * (`CsvFileError`) or about one row (`RowErrorCode`, skipped or fatal depending on `on_error`).
 */

/** Problems with a single data row. With `on_error=skip` the row is rejected and counted. */
export const ROW_ERROR_CODES = [
  'CSV_FIELD_COUNT',
  'CSV_EMPTY_VALUE',
  'CSV_BAD_DATE',
  'CSV_BAD_NUMBER',
  'CSV_BAD_QUOTE',
  'CSV_UNTERMINATED_QUOTE',
  'CSV_BAD_LINE_END',
  'CSV_BAD_TEXT',
] as const
export type RowErrorCode = (typeof ROW_ERROR_CODES)[number]

/** Problems with the whole file or the options: the job fails at once. */
export const FILE_ERROR_CODES = [
  'CSV_EMPTY_FILE',
  'CSV_NOT_TEXT',
  'CSV_MISSING_COLUMNS',
  'CSV_DUPLICATE_COLUMN',
  'CSV_NO_VALID_ROWS',
  'CSV_ROW_TOO_LARGE',
  'CSV_BAD_GZIP',
  'INPUT_TOO_LARGE',
  'INVALID_OPTION_GROUP_BY',
  'INVALID_OPTION_SUM',
  'INVALID_OPTION_ORDER',
  'INVALID_OPTION_ON_ERROR',
  'INVALID_OPTION_THREADS',
  'INVALID_OPTION_MEMORY',
  'INVALID_OPTION_ESCAPE_FORMULAS',
  'ABORTED',
] as const
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number]

export type EngineErrorCode = RowErrorCode | FileErrorCode

export interface EngineErrorDetails {
  /** 1-based physical line where the offending row starts. */
  line?: number
  /** Column name as written in the header. */
  column?: string
  /** For row errors: the message without its `line N, column C:` prefix. */
  reason?: string
}

/** An error a user's file or options caused. Never a bug: callers map it to a 4xx answer. */
export class EngineError extends Error {
  override readonly name = 'EngineError'
  readonly code: EngineErrorCode
  readonly line: number | undefined
  readonly column: string | undefined
  readonly reason: string | undefined

  constructor(code: EngineErrorCode, message: string, details: EngineErrorDetails = {}) {
    super(message)
    this.code = code
    this.line = details.line
    this.column = details.column
    this.reason = details.reason
  }

  /** The same row error found `lineOffset` lines further down (a range of a split file). */
  shiftLines(lineOffset: number): EngineError {
    if (this.line === undefined || this.reason === undefined) return this
    const line = this.line + lineOffset
    return new EngineError(this.code, rowErrorMessage(line, this.column, this.reason), {
      line,
      column: this.column,
      reason: this.reason,
    })
  }

  toJSON(): SerializedEngineError {
    return {
      code: this.code,
      message: this.message,
      line: this.line,
      column: this.column,
      reason: this.reason,
    }
  }

  static fromJSON(json: SerializedEngineError): EngineError {
    return new EngineError(json.code, json.message, json)
  }
}

export function rowErrorMessage(line: number, column: string | undefined, reason: string): string {
  return column === undefined
    ? `line ${line}: ${reason}`
    : `line ${line}, column ${quoteForMessage(column)}: ${reason}`
}

export interface SerializedEngineError {
  code: EngineErrorCode
  message: string
  line: number | undefined
  column: string | undefined
  reason: string | undefined
}

export function isEngineError(error: unknown): error is EngineError {
  return error instanceof EngineError
}

/** Quote a user value for a message, shortened so a 10 MB field does not become a 10 MB message. */
export function quoteForMessage(value: string, maxChars = 60): string {
  const shown = value.length > maxChars ? `${value.slice(0, maxChars)}…` : value
  return JSON.stringify(shown)
}
