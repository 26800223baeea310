/**
 * User options -> a frozen internal spec. Validated once, outside the hot loop; each option has
 * its own error code and the message quotes the value received (G2).
 */
import { EngineError, quoteForMessage } from './errors.js'

export type OutputOrder = 'first_seen' | 'sorted'
export type OnError = 'skip' | 'fail'

export const ORDERS: readonly OutputOrder[] = ['first_seen', 'sorted']
export const ON_ERRORS: readonly OnError[] = ['skip', 'fail']

export interface AggregateOptions {
  /** Columns to group by, matched by name (trimmed, case-insensitive). Default `Song`, `Date`. */
  groupBy?: readonly string[] | string
  /** Integer column to sum. Default `Number of Plays`. */
  sum?: string
  /** Output column name for the total. Default `Total Number of Plays for Date` for the default spec. */
  totalColumn?: string
  order?: string
  onError?: string
  /**
   * Write text values that a spreadsheet would run as a formula (they start with `=`, `+`, `-`,
   * `@`, tab or CR) as text: `'` in front, the field quoted (OWASP's CSV injection advice).
   * A boolean, or its text `true` / `false` (options arrive as text). Default false.
   */
  escapeFormulas?: boolean | string
}

export type ColumnKind = 'text' | 'date'

export interface GroupColumn {
  /** Name as the user asked for it; the output header uses the name found in the file. */
  readonly name: string
  /** Lower-cased, trimmed name used for matching. */
  readonly match: string
  /** `date` columns must hold a real calendar date `YYYY-MM-DD`; `text` columns must be non-empty. */
  readonly kind: ColumnKind
}

export interface AggregateSpec {
  readonly groupBy: readonly GroupColumn[]
  readonly sum: { readonly name: string; readonly match: string }
  readonly totalColumn: string
  readonly order: OutputOrder
  readonly onError: OnError
  /** Text values starting with `= + - @`, tab or CR are written as `"'value"` (see output.ts). */
  readonly escapeFormulas: boolean
}

export const DEFAULT_GROUP_BY = ['Song', 'Date'] as const
export const DEFAULT_SUM = 'Number of Plays'
export const DEFAULT_TOTAL_COLUMN = 'Total Number of Plays for Date'

const MAX_GROUP_COLUMNS = 8

/** Column names match trimmed of spaces and tabs (as unquoted fields are), case-insensitively. */
export function normalizeColumnName(name: string): string {
  return name.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase()
}

/** The text values of a boolean option (query parameters and form fields are text). */
export const BOOLEAN_TEXTS = ['true', 'false'] as const

/**
 * The `escape_formulas` option from a boolean or its text, `true` or `false`; unset is false.
 * Anything else throws `INVALID_OPTION_ESCAPE_FORMULAS`.
 */
export function parseEscapeFormulas(value: unknown): boolean {
  if (value === undefined || typeof value === 'boolean') return value === true
  if (value === 'true') return true
  if (value === 'false') return false
  throw new EngineError(
    'INVALID_OPTION_ESCAPE_FORMULAS',
    `escape_formulas must be true or false, got ${quoteForMessage(String(value))}`,
  )
}

/** The options a spec was made from, as plain data (what travels to the worker threads). */
export function specOptions(spec: AggregateSpec): AggregateOptions {
  return {
    groupBy: spec.groupBy.map((c) => c.name),
    sum: spec.sum.name,
    totalColumn: spec.totalColumn,
    order: spec.order,
    onError: spec.onError,
  }
}

export function createSpec(options: AggregateOptions = {}): AggregateSpec {
  const rawGroupBy = options.groupBy ?? DEFAULT_GROUP_BY
  const groupNames = (typeof rawGroupBy === 'string' ? rawGroupBy.split(',') : [...rawGroupBy]).map(
    (n) => n.trim(),
  )
  if (
    groupNames.length === 0 ||
    groupNames.length > MAX_GROUP_COLUMNS ||
    groupNames.some((n) => n === '')
  ) {
    throw new EngineError(
      'INVALID_OPTION_GROUP_BY',
      `group_by must name 1 to ${MAX_GROUP_COLUMNS} non-empty columns, got ${quoteForMessage(String(rawGroupBy))}`,
    )
  }
  const seen = new Set<string>()
  for (const n of groupNames) {
    const m = normalizeColumnName(n)
    if (seen.has(m)) {
      throw new EngineError(
        'INVALID_OPTION_GROUP_BY',
        `group_by names column ${quoteForMessage(n)} twice`,
      )
    }
    seen.add(m)
  }
  const sumName = (options.sum ?? DEFAULT_SUM).trim()
  if (sumName === '' || seen.has(normalizeColumnName(sumName))) {
    throw new EngineError(
      'INVALID_OPTION_SUM',
      `sum must name one column that is not grouped by, got ${quoteForMessage(options.sum ?? '')}`,
    )
  }
  const order = options.order ?? 'first_seen'
  if (!ORDERS.includes(order as OutputOrder)) {
    throw new EngineError(
      'INVALID_OPTION_ORDER',
      `order must be one of ${ORDERS.join(', ')}, got ${quoteForMessage(order)}`,
    )
  }
  const onError = options.onError ?? 'skip'
  if (!ON_ERRORS.includes(onError as OnError)) {
    throw new EngineError(
      'INVALID_OPTION_ON_ERROR',
      `on_error must be one of ${ON_ERRORS.join(', ')}, got ${quoteForMessage(onError)}`,
    )
  }
  const escapeFormulas = parseEscapeFormulas(options.escapeFormulas)
  const isDefault =
    groupNames.length === 2 &&
    normalizeColumnName(groupNames[0]!) === 'song' &&
    normalizeColumnName(groupNames[1]!) === 'date' &&
    normalizeColumnName(sumName) === normalizeColumnName(DEFAULT_SUM)
  const totalColumn = options.totalColumn ?? (isDefault ? DEFAULT_TOTAL_COLUMN : `Total ${sumName}`)
  return Object.freeze({
    groupBy: Object.freeze(
      groupNames.map((name) => {
        const match = normalizeColumnName(name)
        // A column named "date" holds dates: validated, and stored as a small integer.
        const kind: ColumnKind = match === 'date' ? 'date' : 'text'
        return Object.freeze({ name, match, kind })
      }),
    ),
    sum: Object.freeze({ name: sumName, match: normalizeColumnName(sumName) }),
    totalColumn,
    order: order as OutputOrder,
    onError: onError as OnError,
    escapeFormulas,
  })
}
