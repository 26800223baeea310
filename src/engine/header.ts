/**
 * The header row: which field holds which column, and clear answers for files that are not the
 * CSV we expect (binary data, missing or duplicated columns).
 */
import { EngineError, quoteForMessage } from './errors.js'
import type { AggregateSpec, ColumnKind } from './spec.js'
import { normalizeColumnName } from './spec.js'

/** Where the columns a spec needs sit in the rows of one file. Plain data: crosses threads. */
export interface ColumnLayout {
  /** Header names as found, trimmed. */
  readonly header: readonly string[]
  readonly fieldCount: number
  readonly groupIndexes: readonly number[]
  readonly groupKinds: readonly ColumnKind[]
  /** Output names of the group columns: as written in the file's header. */
  readonly groupNames: readonly string[]
  readonly sumIndex: number
  readonly sumName: string
}

/** `line` is the physical line of the header row (blank lines may come before it). */
export function resolveLayout(
  spec: AggregateSpec,
  header: readonly string[],
  line = 1,
): ColumnLayout {
  const normalized = header.map(normalizeColumnName)
  const wanted = [...spec.groupBy.map((c) => c.match), spec.sum.match]
  const wantedNames = [...spec.groupBy.map((c) => c.name), spec.sum.name]
  const indexes: number[] = []
  const missing: string[] = []
  wanted.forEach((match, k) => {
    const first = normalized.indexOf(match)
    if (first === -1) {
      missing.push(wantedNames[k]!)
      return
    }
    if (normalized.indexOf(match, first + 1) !== -1) {
      throw new EngineError(
        'CSV_DUPLICATE_COLUMN',
        `line ${line}: column ${quoteForMessage(wantedNames[k]!)} appears more than once in the header (fields ${first + 1} and ${normalized.indexOf(match, first + 1) + 1}); expected it once`,
        { line, column: wantedNames[k] },
      )
    }
    indexes.push(first)
  })
  if (missing.length > 0) {
    const found = header.length > 20 ? [...header.slice(0, 20), '…'] : header
    throw new EngineError(
      'CSV_MISSING_COLUMNS',
      `line ${line}: missing required column${missing.length > 1 ? 's' : ''} ${missing.map((m) => quoteForMessage(m)).join(', ')}; expected a header with ${wantedNames.map((m) => quoteForMessage(m)).join(', ')}, found ${found.map((h) => quoteForMessage(h, 40)).join(',')}`,
      { line, column: missing[0] },
    )
  }
  const groupCount = spec.groupBy.length
  return {
    header: [...header],
    fieldCount: header.length,
    groupIndexes: indexes.slice(0, groupCount),
    groupKinds: spec.groupBy.map((c) => c.kind),
    groupNames: indexes.slice(0, groupCount).map((i) => header[i]!),
    sumIndex: indexes[groupCount]!,
    sumName: header[indexes[groupCount]!]!,
  }
}

const SIGNATURES: ReadonlyArray<readonly [string, readonly number[]]> = [
  ['a gzip stream that could not be decompressed', [0x1f, 0x8b]],
  ['a ZIP archive (or an Excel .xlsx file)', [0x50, 0x4b, 0x03, 0x04]],
  ['a PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['a JPEG image', [0xff, 0xd8, 0xff]],
  ['a GIF image', [0x47, 0x49, 0x46, 0x38]],
  ['a PDF document', [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ['an Excel .xls file', [0xd0, 0xcf, 0x11, 0xe0]],
  ['a bzip2 stream', [0x42, 0x5a, 0x68]],
  ['an xz stream', [0xfd, 0x37, 0x7a, 0x58, 0x5a]],
  ['a zstd stream', [0x28, 0xb5, 0x2f, 0xfd]],
  ['UTF-16 text (expected UTF-8)', [0xff, 0xfe]],
  ['UTF-16 text (expected UTF-8)', [0xfe, 0xff]],
]

/** What a file that is not CSV text looks like, from its first bytes; undefined when it may be text. */
export function sniffBinary(head: Uint8Array): string | undefined {
  for (const [what, magic] of SIGNATURES) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return what
  }
  return undefined
}
