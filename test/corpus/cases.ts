/**
 * The bad-input corpus: named malformed, hostile or merely surprising inputs, each with the
 * outcome the rules (README "The CSV rules" and "Error codes") give it under each bad-row policy.
 *
 * Every input is produced by code (large ones on demand, never committed as files). An expected
 * outcome is either the exact output CSV with the rejected rows (line number and code; none
 * under `on_error=fail`), or the fatal error code (and its line when the rules fix one).
 *
 * One case can have different outcomes on different paths, and says so:
 * - `expect`: `aggregate()` on a file or a stream, with the case's `limits`;
 * - `sync`: `aggregateSync` (bytes in memory: it does not decompress gzip, has no size limit);
 * - `cli`: `tally aggregate FILE` (it has no flag for the size limits).
 * A path without its own entry uses the one before it in that list.
 *
 * `reference: false` marks the cases the test oracle (test/support/reference.ts) does not
 * cover: malformed headers (the reference reports them as unspecified), the engine's limits,
 * gzip. For the others the corpus tests check that the reference computes the same outcome,
 * so a hand-written expectation and the oracle check each other.
 */
import { crc32, deflateSync, gzipSync } from 'node:zlib'

export type RowCode =
  | 'CSV_FIELD_COUNT'
  | 'CSV_EMPTY_VALUE'
  | 'CSV_BAD_DATE'
  | 'CSV_BAD_NUMBER'
  | 'CSV_BAD_QUOTE'
  | 'CSV_UNTERMINATED_QUOTE'
  | 'CSV_BAD_LINE_END'
  | 'CSV_BAD_TEXT'

export type FileCode =
  | 'CSV_EMPTY_FILE'
  | 'CSV_NOT_TEXT'
  | 'CSV_MISSING_COLUMNS'
  | 'CSV_DUPLICATE_COLUMN'
  | 'CSV_NO_VALID_ROWS'
  | 'CSV_ROW_TOO_LARGE'
  | 'CSV_BAD_GZIP'
  | 'INPUT_TOO_LARGE'

export type Reject = readonly [line: number, code: RowCode]

export type Outcome =
  | { readonly csv: string; readonly rejects: readonly Reject[] }
  | { readonly error: RowCode | FileCode; readonly line?: number }

export interface PolicyOutcomes {
  readonly skip: Outcome
  readonly fail: Outcome
}

export type Policy = keyof PolicyOutcomes
export const POLICIES: readonly Policy[] = ['skip', 'fail']

export interface CorpusCase {
  readonly name: string
  readonly about: string
  /** The input's bytes (memoized: large inputs are built once). */
  readonly bytes: () => Uint8Array
  /** `aggregate()` on a file or a stream, with `limits`. */
  readonly expect: PolicyOutcomes
  /** `aggregateSync`, when it differs from `expect`. */
  readonly sync?: PolicyOutcomes
  /** The CLI, when it differs from `sync` (or `expect`). */
  readonly cli?: PolicyOutcomes
  /** Options for `aggregate()` only (the CLI and `aggregateSync` have none). */
  readonly limits?: { readonly maxInputBytes?: number; readonly maxRowBytes?: number }
  readonly order?: 'first_seen' | 'sorted'
  /** False when the reference aggregator does not cover the case (see the file comment). */
  readonly reference?: boolean
  /**
   * False when blank lines appended at the end would change the outcome (the file tests pad
   * small inputs past the in-process threshold to run them through the worker threads).
   */
  readonly pad?: boolean
  /** The file name the CLI and file tests use (default `input.csv`). */
  readonly fileName?: string
}

export const isError = (o: Outcome): o is { error: RowCode | FileCode; line?: number } =>
  'error' in o

export function syncOutcomes(c: CorpusCase): PolicyOutcomes {
  return c.sync ?? c.expect
}

export function cliOutcomes(c: CorpusCase): PolicyOutcomes {
  return c.cli ?? c.sync ?? c.expect
}

// ---------------------------------------------------------------------------------------------
// Building blocks

const H = 'Song,Date,Number of Plays'
const OUT = 'Song,Date,Total Number of Plays for Date'
const MB = 1024 * 1024

/** Rows, each followed by LF. */
const lines = (...rows: string[]): string => rows.map((r) => `${r}\n`).join('')
/** An output CSV with the default header. */
const out = (...rows: string[]): string => lines(OUT, ...rows)

const memo = (make: () => Uint8Array): (() => Uint8Array) => {
  let bytes: Uint8Array | undefined
  return () => {
    bytes ??= make()
    return bytes
  }
}
/** Text as UTF-8. */
const utf8 = (text: string) => memo(() => Buffer.from(text, 'utf8'))
/** A "binary" string (one character per byte), to write invalid UTF-8 and raw bytes. */
const raw = (text: string) => memo(() => Buffer.from(text, 'latin1'))

const same = (o: Outcome): PolicyOutcomes => ({ skip: o, fail: o })
/** Good input: the same output under both policies. */
const ok = (csv: string): PolicyOutcomes => same({ csv, rejects: [] })
/** A file error: the same error under both policies. */
const fatal = (error: FileCode, line?: number): PolicyOutcomes =>
  same(line === undefined ? { error } : { error, line })
/** Some rows are bad: skipped and listed, or the first one fails the run. */
const rejecting = (csv: string, ...rejects: Reject[]): PolicyOutcomes => ({
  skip: { csv, rejects },
  fail: { error: rejects[0]![1], line: rejects[0]![0] },
})
/** Every data row is bad: the run fails either way, with a different code. */
const allRejected = (...rejects: Reject[]): PolicyOutcomes => ({
  skip: { error: 'CSV_NO_VALID_ROWS', line: rejects[0]![0] },
  fail: { error: rejects[0]![1], line: rejects[0]![0] },
})

/** A minimal valid ZIP archive (stored, not compressed) holding one file. */
function zipOf(name: string, content: Buffer): Buffer {
  const nameBytes = Buffer.from(name, 'utf8')
  const crc = crc32(content)
  const local = Buffer.alloc(30)
  local.writeUInt32LE(0x04034b50, 0)
  local.writeUInt16LE(20, 4) // version needed
  local.writeUInt32LE(crc, 14)
  local.writeUInt32LE(content.length, 18)
  local.writeUInt32LE(content.length, 22)
  local.writeUInt16LE(nameBytes.length, 26)
  const central = Buffer.alloc(46)
  central.writeUInt32LE(0x02014b50, 0)
  central.writeUInt16LE(20, 4) // version made by
  central.writeUInt16LE(20, 6) // version needed
  central.writeUInt32LE(crc, 16)
  central.writeUInt32LE(content.length, 20)
  central.writeUInt32LE(content.length, 24)
  central.writeUInt16LE(nameBytes.length, 28)
  const centralStart = local.length + nameBytes.length + content.length
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(1, 8)
  end.writeUInt16LE(1, 10)
  end.writeUInt32LE(central.length + nameBytes.length, 12)
  end.writeUInt32LE(centralStart, 16)
  return Buffer.concat([local, nameBytes, content, central, nameBytes, end])
}

/** A valid 1x1 grey PNG image. */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8)
    head.writeUInt32BE(data.length, 0)
    head.write(type, 4, 'latin1')
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
    return Buffer.concat([head, data, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(1, 0)
  ihdr.writeUInt32BE(1, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 0 // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from([0, 0x80]))),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

const SMALL_CSV = lines(H, 'Umbrella,2020-01-01,100', 'In The End,2020-01-01,5')
const SMALL_OUT = out('Umbrella,2020-01-01,100', 'In The End,2020-01-01,5')

/** Rows for the gzip bomb: 16 MiB of the same row once decompressed. */
const BOMB_ROW = 'Umbrella,2020-01-01,1\n'
const BOMB_ROWS = Math.ceil((16 * MB) / BOMB_ROW.length)

/** A song of 10 MiB holding every character that needs quoting. */
const TEN_MB_QUOTED_SONG = 'ab,c""d\r\ne f\n'.repeat(Math.ceil((10 * MB) / 13))
const TEN_MB_QUOTED_SONG_LINES = (TEN_MB_QUOTED_SONG.match(/\n/g) ?? []).length
const quote = (value: string) => `"${value.replaceAll('"', '""')}"`

const TEN_MB_SONG = 'x'.repeat(10 * MB)
const MILLION = 1_000_000
const LONG_NAME = 'N'.repeat(MB)
const WIDE = 20_000

// ---------------------------------------------------------------------------------------------
// The corpus

export const CASES: readonly CorpusCase[] = [
  // --- Headers ------------------------------------------------------------------------------
  {
    name: 'header-wrong-names',
    about: 'the columns are called something else',
    bytes: utf8(lines('Title,Day,Plays', 'Umbrella,2020-01-01,1')),
    expect: fatal('CSV_MISSING_COLUMNS', 1),
  },
  {
    name: 'header-missing-data-first',
    about: 'no header row: the first line is data',
    bytes: utf8(lines('Umbrella,2020-01-01,100', 'Umbrella,2020-01-02,5')),
    expect: fatal('CSV_MISSING_COLUMNS', 1),
  },
  {
    name: 'header-missing-one-column',
    about: 'Number of Plays is not in the header',
    bytes: utf8(lines('Song,Date', 'Umbrella,2020-01-01')),
    expect: fatal('CSV_MISSING_COLUMNS', 1),
  },
  {
    name: 'header-wrong-names-after-blank-lines',
    about: 'the message must name the line the header is on, not line 1',
    bytes: utf8(`\n  \n${lines('Title,Day,Plays', 'Umbrella,2020-01-01,1')}`),
    expect: fatal('CSV_MISSING_COLUMNS', 3),
  },
  {
    name: 'header-only',
    about: 'a header and no data rows: an output with just the header',
    bytes: utf8(lines(H)),
    expect: ok(out()),
  },
  {
    name: 'header-only-no-line-end',
    about: 'the header is the whole file, without LF',
    bytes: utf8(H),
    expect: ok(out()),
  },
  {
    name: 'header-then-blank-lines',
    about: 'blank and whitespace lines after the header are not rows',
    bytes: utf8(`${H}\r\n\n \t\n\r\n\t`),
    expect: ok(out()),
  },
  {
    name: 'empty-file',
    about: 'zero bytes',
    bytes: utf8(''),
    expect: fatal('CSV_EMPTY_FILE'),
  },
  {
    name: 'only-blank-lines',
    about: 'LF, CRLF and lines of spaces and tabs, no header',
    bytes: utf8('\n\r\n   \n\t\t\r\n \n'),
    expect: fatal('CSV_EMPTY_FILE'),
  },
  {
    name: 'header-duplicate-required',
    about: 'Song twice (once in another case and with spaces)',
    bytes: utf8(lines('Song,Date,Number of Plays, SONG ', 'a,2020-01-01,1,b')),
    expect: fatal('CSV_DUPLICATE_COLUMN', 1),
  },
  {
    name: 'header-duplicate-extra-column',
    about: 'an ignored column twice is fine',
    bytes: utf8(lines('Notes,Song,Notes,Date,Number of Plays', 'x,Umbrella,y,2020-01-01,3')),
    expect: ok(out('Umbrella,2020-01-01,3')),
  },
  {
    name: 'header-extra-and-reordered',
    about:
      'columns in another order, other cases and padding, extra columns: output names as written',
    bytes: utf8(
      lines(
        'Notes, number of plays ,Extra,DATE,"Song"',
        'n,5,e,2020-01-02,Umbrella',
        'n,7,e,2020-01-01,In The End',
        ',1,,2020-01-02,Umbrella',
      ),
    ),
    expect: ok(
      lines(
        'Song,DATE,Total Number of Plays for Date',
        'Umbrella,2020-01-02,6',
        'In The End,2020-01-01,7',
      ),
    ),
  },
  {
    name: 'header-quoted-names',
    about: 'every header name quoted, one padded inside its quotes',
    bytes: utf8(lines('"Song"," Date ","Number of Plays"', 'Umbrella,2020-01-01,2')),
    expect: ok(out('Umbrella,2020-01-01,2')),
  },
  {
    name: 'header-unterminated-quote',
    about: 'the header opens a quote it never closes: a malformed header',
    bytes: utf8(lines('"Song,Date,Number of Plays', 'Umbrella,2020-01-01,1')),
    expect: fatal('CSV_MISSING_COLUMNS', 1),
    reference: false,
  },
  {
    name: 'header-quote-inside-name',
    about: 'a quote in the middle of an unquoted header name',
    bytes: utf8(lines('So"ng,Date,Number of Plays', 'Umbrella,2020-01-01,1')),
    expect: fatal('CSV_MISSING_COLUMNS', 1),
    reference: false,
  },
  {
    name: 'header-very-long-line',
    about: 'a header line of 1 MiB (a huge extra column name)',
    bytes: utf8(lines(`${H},${LONG_NAME}`, 'Umbrella,2020-01-01,4,x')),
    expect: ok(out('Umbrella,2020-01-01,4')),
  },
  {
    name: 'header-million-columns',
    about: 'a header of a million columns (past the 100,000 the engine reads)',
    bytes: utf8(
      lines(`${H}${',x'.repeat(MILLION)}`, `Umbrella,2020-01-01,1${',y'.repeat(MILLION)}`),
    ),
    expect: fatal('CSV_MISSING_COLUMNS', 1),
    reference: false,
  },
  {
    name: 'header-wide-file',
    about: `${WIDE} columns in the header and in every row: fine`,
    bytes: utf8(
      lines(
        `${Array.from({ length: WIDE }, (_, i) => `c${i}`).join(',')},${H}`,
        `${',x'.repeat(WIDE).slice(1)},Umbrella,2020-01-01,1`,
        `${','.repeat(WIDE - 1)},Umbrella,2020-01-01,2`,
      ),
    ),
    expect: ok(out('Umbrella,2020-01-01,3')),
  },

  // --- Quoting ------------------------------------------------------------------------------
  {
    name: 'quote-unbalanced-at-eof-last-field',
    about: 'the last field of a row opens a quote that the file never closes',
    bytes: utf8(lines(H, 'Umbrella,2020-01-01,1', 'B,2020-01-01,"7', 'C,2020-01-01,1')),
    expect: rejecting(out('Umbrella,2020-01-01,1'), [3, 'CSV_UNTERMINATED_QUOTE']),
  },
  {
    name: 'quote-unbalanced-at-eof-first-field',
    about: 'the first field opens a quote never closed: the rest of the file is one field',
    bytes: utf8(`${lines(H, 'Umbrella,2020-01-01,1')}"B,2020-01-01,7\nC,2020-01-01,1`),
    expect: rejecting(out('Umbrella,2020-01-01,1'), [3, 'CSV_FIELD_COUNT']),
  },
  {
    name: 'quote-in-unquoted-field',
    about: 'a quote in the middle of an unquoted field; the next row is still read',
    bytes: utf8(lines(H, 'Um"brella,2020-01-01,2', 'B,2020-01-01,3', '5" Vinyl,2020-01-01,1')),
    expect: rejecting(out('B,2020-01-01,3'), [2, 'CSV_BAD_QUOTE'], [4, 'CSV_BAD_QUOTE']),
  },
  {
    name: 'quote-text-after-closing',
    about: 'text after a closing quote (spaces after it are fine)',
    bytes: utf8(
      lines(H, '"Umbrella"x,2020-01-01,2', '"Umbrella"  ,2020-01-01,3', 'A,"2020-01-01"-,1'),
    ),
    expect: rejecting(out('Umbrella,2020-01-01,3'), [2, 'CSV_BAD_QUOTE'], [4, 'CSV_BAD_QUOTE']),
  },
  {
    name: 'quote-multiline-song',
    about: 'quoted songs with commas, doubled quotes and line ends; line numbers count every LF',
    bytes: utf8(
      lines(
        H,
        '"Hello,\n""World""\r\n!",2020-01-01,1',
        'B,2020-13-01,1',
        '"Hello,\n""World""\r\n!",2020-01-01,2',
      ),
    ),
    expect: rejecting(out('"Hello,\n""World""\r\n!",2020-01-01,3'), [5, 'CSV_BAD_DATE']),
  },
  {
    name: 'quote-same-song-quoted-or-not',
    about: '"Umbrella" and Umbrella are one song; umbrella is another',
    bytes: utf8(
      lines(H, '"Umbrella",2020-01-01,1', 'Umbrella,2020-01-01,2', ' umbrella ,2020-01-01,4'),
    ),
    expect: ok(out('Umbrella,2020-01-01,3', 'umbrella,2020-01-01,4')),
  },

  // --- Text: NUL, UTF-8, BOM, encodings ------------------------------------------------------
  {
    name: 'nul-in-song',
    about: 'a NUL byte inside a song',
    bytes: raw(lines(H, 'Umb\0rella,2020-01-01,1', 'B,2020-01-01,2')),
    expect: rejecting(out('B,2020-01-01,2'), [2, 'CSV_BAD_TEXT']),
  },
  // Engine bug when written: the NUL check stops at the first non-ASCII byte (bytes.ts isValidUtf8).
  {
    name: 'nul-after-non-ascii-in-song',
    about: 'a NUL byte in a song that also holds non-ASCII text',
    bytes: raw(
      lines(H, 'Caf\xc3\xa9\0,2020-01-01,1', '\xef\xbb\xbf\0,2020-01-01,1', 'B,2020-01-01,2'),
    ),
    expect: rejecting(out('B,2020-01-01,2'), [2, 'CSV_BAD_TEXT'], [3, 'CSV_BAD_TEXT']),
  },
  {
    name: 'nul-in-ignored-column',
    about: 'a NUL byte in a column that is not aggregated is not looked at',
    bytes: raw(lines(`${H},Notes`, 'B,2020-01-01,2,\0\0')),
    expect: ok(out('B,2020-01-01,2')),
  },
  {
    name: 'nul-in-header',
    about: 'a NUL byte in a header name: not CSV text',
    bytes: raw(lines('Song,Da\0te,Number of Plays', 'B,2020-01-01,2')),
    expect: fatal('CSV_NOT_TEXT', 1),
  },
  {
    name: 'invalid-utf8-in-song',
    about: 'invalid UTF-8 in songs: a stray byte, an overlong form, a surrogate, a cut sequence',
    bytes: raw(
      lines(
        H,
        'Caf\xe9,2020-01-01,1',
        '\xc0\xaf,2020-01-01,1',
        'a\xed\xa0\x80,2020-01-01,1',
        'Caf\xc3,2020-01-01,1',
        'Caf\xc3\xa9,2020-01-01,1',
      ),
    ),
    expect: rejecting(
      out('Café,2020-01-01,1'),
      [2, 'CSV_BAD_TEXT'],
      [3, 'CSV_BAD_TEXT'],
      [4, 'CSV_BAD_TEXT'],
      [5, 'CSV_BAD_TEXT'],
    ),
  },
  {
    name: 'invalid-utf8-in-date',
    about: 'invalid UTF-8 in a date is a bad date',
    bytes: raw(lines(H, 'A,2020-01-0\xff,1', 'A,2020-01-01,1')),
    expect: rejecting(out('A,2020-01-01,1'), [2, 'CSV_BAD_DATE']),
  },
  {
    name: 'invalid-utf8-in-header',
    about: 'invalid UTF-8 in a header name (even an ignored one): not CSV text',
    bytes: raw(lines(`${H},Caf\xe9`, 'A,2020-01-01,1,x')),
    expect: fatal('CSV_NOT_TEXT', 1),
  },
  {
    name: 'bom-then-csv',
    about: 'a leading BOM is skipped (the tests also cut it across chunks)',
    bytes: utf8(`\uFEFF${SMALL_CSV}`),
    expect: ok(SMALL_OUT),
  },
  {
    name: 'bom-only',
    about: 'a file that is just a BOM',
    bytes: utf8('\uFEFF'),
    expect: fatal('CSV_EMPTY_FILE'),
  },
  {
    name: 'bom-twice',
    about:
      'two BOMs: tolerated (header names are decoded as UTF-8 text, which drops a BOM at their start)',
    bytes: utf8(`\uFEFF\uFEFF${SMALL_CSV}`),
    expect: ok(SMALL_OUT),
  },
  {
    name: 'bom-in-song',
    about: 'a BOM inside the data is text',
    bytes: utf8(lines(H, '\uFEFFUmbrella,2020-01-01,1', 'Umbrella,2020-01-01,1')),
    expect: ok(out('\uFEFFUmbrella,2020-01-01,1', 'Umbrella,2020-01-01,1')),
  },
  {
    name: 'utf16le-with-bom',
    about: 'UTF-16 LE text (as Excel saves "Unicode text")',
    bytes: memo(() =>
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SMALL_CSV, 'utf16le')]),
    ),
    expect: fatal('CSV_NOT_TEXT', 1),
  },
  {
    name: 'utf16be-with-bom',
    about: 'UTF-16 BE text',
    bytes: memo(() =>
      Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(SMALL_CSV, 'utf16le').swap16()]),
    ),
    expect: fatal('CSV_NOT_TEXT', 1),
  },
  {
    name: 'utf16le-without-bom',
    about: 'UTF-16 LE text without a BOM: NUL bytes in the header',
    bytes: memo(() => Buffer.from(SMALL_CSV, 'utf16le')),
    expect: fatal('CSV_NOT_TEXT', 1),
  },

  // --- Line ends ----------------------------------------------------------------------------
  {
    name: 'line-ends-lone-cr-whole-file',
    about: 'old Mac line ends: the whole file is one line whose header holds lone CRs',
    bytes: utf8(`${H}\rUmbrella,2020-01-01,1\rB,2020-01-01,2\r`),
    expect: fatal('CSV_MISSING_COLUMNS', 1),
    reference: false,
  },
  {
    name: 'line-ends-lone-cr-after-header',
    about: 'LF after the header, then lone CRs: the rest is one row of too many fields',
    bytes: utf8(`${lines(H, 'Z,2020-01-01,9')}Umbrella,2020-01-01,1\rB,2020-01-01,2\r`),
    expect: rejecting(out('Z,2020-01-01,9'), [3, 'CSV_FIELD_COUNT']),
  },
  {
    name: 'line-ends-lone-cr-in-field',
    about: 'a lone CR inside a song',
    bytes: utf8(lines(H, 'Umb\rrella,2020-01-01,1', 'B,2020-01-01,2')),
    expect: rejecting(out('B,2020-01-01,2'), [2, 'CSV_BAD_LINE_END']),
  },
  {
    name: 'line-ends-mixed-crlf-lf',
    about: 'CRLF and LF mixed, a CR before the end of the file',
    bytes: utf8(
      `${H}\r\nUmbrella,2020-01-01,1\nUmbrella,2020-01-01,2\r\nB,2020-01-02,3\r\n\nB,2020-01-02,4\r`,
    ),
    expect: ok(out('Umbrella,2020-01-01,3', 'B,2020-01-02,7')),
  },
  {
    name: 'line-ends-blank-lines-between-rows',
    about: 'blank and whitespace lines between rows; the bad row is reported on its real line',
    bytes: utf8(
      lines(H, '', 'A,2020-01-01,1', '   ', '\t', 'A,2020-01-01,x', '', 'A,2020-01-01,2'),
    ),
    expect: rejecting(out('A,2020-01-01,3'), [6, 'CSV_BAD_NUMBER']),
  },
  {
    name: 'line-ends-many-blank-lines-first',
    about: 'a million blank lines before the header: line numbers stay right',
    bytes: memo(() =>
      Buffer.from(`${'\n'.repeat(MILLION)}${lines(H, 'A,2020-01-01,1', 'A,2020-01-01,-1')}`),
    ),
    expect: rejecting(out('A,2020-01-01,1'), [MILLION + 3, 'CSV_BAD_NUMBER']),
  },

  // --- Field counts and big rows ----------------------------------------------------------
  {
    name: 'field-count-short-and-long',
    about: 'rows with one field too few, one too many, a trailing comma',
    bytes: utf8(
      lines(H, 'A,2020-01-01', 'A,2020-01-01,1,', 'A,2020-01-01,1,extra', 'A,2020-01-01,1'),
    ),
    expect: rejecting(
      out('A,2020-01-01,1'),
      [2, 'CSV_FIELD_COUNT'],
      [3, 'CSV_FIELD_COUNT'],
      [4, 'CSV_FIELD_COUNT'],
    ),
  },
  {
    name: 'row-million-columns',
    about: 'a data row of a million columns',
    bytes: utf8(lines(H, 'A,2020-01-01,1', `${'x,'.repeat(MILLION - 1)}x`, 'B,2020-01-01,2')),
    expect: rejecting(out('A,2020-01-01,1', 'B,2020-01-01,2'), [3, 'CSV_FIELD_COUNT']),
  },
  {
    name: 'field-10mb-quoted',
    about: 'a valid quoted song of 10 MiB holding commas, quotes, CRLF and LF',
    bytes: memo(() =>
      Buffer.from(
        lines(H, `${quote(TEN_MB_QUOTED_SONG)},2020-01-01,5`, 'B,2020-01-01,1', 'B,2020-02-30,1'),
      ),
    ),
    expect: rejecting(out(`${quote(TEN_MB_QUOTED_SONG)},2020-01-01,5`, 'B,2020-01-01,1'), [
      TEN_MB_QUOTED_SONG_LINES + 4,
      'CSV_BAD_DATE',
    ]),
  },
  {
    name: 'field-10mb-unquoted-song',
    about: 'an unquoted song name of 10 MiB',
    bytes: memo(() =>
      Buffer.from(lines(H, `${TEN_MB_SONG},2020-01-01,7`, `${TEN_MB_SONG},2020-01-01,1`)),
    ),
    expect: ok(out(`${TEN_MB_SONG},2020-01-01,8`)),
  },
  // Engine bug when written: on the threaded path the error's line is counted from the range start.
  {
    name: 'row-too-large-open-quote',
    about: 'a quote left open followed by 3 MiB: past maxRowBytes (1 MiB here) the run stops',
    bytes: memo(() =>
      Buffer.from(
        `${lines(H, 'A,2020-01-01,1')}"B${',2020-01-01,1\n'.repeat(Math.ceil((3 * MB) / 14))}`,
      ),
    ),
    limits: { maxRowBytes: MB },
    expect: fatal('CSV_ROW_TOO_LARGE', 3),
    // Without the limit (64 MiB by default) the open quote runs to the end of the file.
    sync: rejecting(out('A,2020-01-01,1'), [3, 'CSV_FIELD_COUNT']),
    reference: false,
  },

  // --- Numbers ------------------------------------------------------------------------------
  {
    name: 'number-signs',
    about: '+5 and -5 are not non-negative integers as written',
    bytes: utf8(
      lines(H, 'A,2020-01-01,+5', 'A,2020-01-01,-5', 'A,2020-01-01,5', 'A,2020-01-01,-0'),
    ),
    expect: rejecting(
      out('A,2020-01-01,5'),
      [2, 'CSV_BAD_NUMBER'],
      [3, 'CSV_BAD_NUMBER'],
      [5, 'CSV_BAD_NUMBER'],
    ),
  },
  {
    name: 'number-decimals',
    about: '1.0, 1., .5 and 1,5 quoted',
    bytes: utf8(
      lines(
        H,
        'A,2020-01-01,1.0',
        'A,2020-01-01,1.',
        'A,2020-01-01,.5',
        'A,2020-01-01,"1,5"',
        'A,2020-01-01,2',
      ),
    ),
    expect: rejecting(
      out('A,2020-01-01,2'),
      [2, 'CSV_BAD_NUMBER'],
      [3, 'CSV_BAD_NUMBER'],
      [4, 'CSV_BAD_NUMBER'],
      [5, 'CSV_BAD_NUMBER'],
    ),
  },
  {
    name: 'number-exponents',
    about: '1e3, 1E3, 1e+3 and Infinity',
    bytes: utf8(
      lines(
        H,
        'A,2020-01-01,1e3',
        'A,2020-01-01,1E3',
        'A,2020-01-01,1e+3',
        'A,2020-01-01,Infinity',
        'A,2020-01-01,1000',
      ),
    ),
    expect: rejecting(
      out('A,2020-01-01,1000'),
      [2, 'CSV_BAD_NUMBER'],
      [3, 'CSV_BAD_NUMBER'],
      [4, 'CSV_BAD_NUMBER'],
      [5, 'CSV_BAD_NUMBER'],
    ),
  },
  {
    name: 'number-thousands-separators',
    about: '1,000 unquoted (one field too many), "1,000" quoted, 1 000, 1_000, 1\'000',
    bytes: utf8(
      lines(
        H,
        'A,2020-01-01,1,000',
        'A,2020-01-01,"1,000"',
        'A,2020-01-01,1 000',
        'A,2020-01-01,1_000',
        "A,2020-01-01,1'000",
        'A,2020-01-01,1000',
      ),
    ),
    expect: rejecting(
      out('A,2020-01-01,1000'),
      [2, 'CSV_FIELD_COUNT'],
      [3, 'CSV_BAD_NUMBER'],
      [4, 'CSV_BAD_NUMBER'],
      [5, 'CSV_BAD_NUMBER'],
      [6, 'CSV_BAD_NUMBER'],
    ),
  },
  {
    name: 'number-30-digits',
    about: '30-digit counts and totals past 2^53 are exact',
    bytes: utf8(
      lines(
        H,
        `A,2020-01-01,${'9'.repeat(30)}`,
        `A,2020-01-01,${'9'.repeat(30)}`,
        'A,2020-01-01,2',
        `B,2020-01-01,${'0'.repeat(28)}42`,
        'C,2020-01-01,9007199254740991',
        'C,2020-01-01,1',
        'C,2020-01-01,1',
        'D,2020-01-01,999999999999999',
        'D,2020-01-01,1',
      ),
    ),
    expect: ok(
      out(
        `A,2020-01-01,2${'0'.repeat(30)}`,
        'B,2020-01-01,42',
        'C,2020-01-01,9007199254740993',
        'D,2020-01-01,1000000000000000',
      ),
    ),
  },
  {
    name: 'number-spaces',
    about: 'spaces inside quotes are part of the number (bad); unquoted ones are trimmed (good)',
    bytes: utf8(
      lines(
        H,
        'A,2020-01-01," 5"',
        'A,2020-01-01,"5 "',
        'A,2020-01-01, 5 ',
        'A,2020-01-01,"5"',
        'A,2020-01-01,\t5\t',
      ),
    ),
    expect: rejecting(out('A,2020-01-01,15'), [2, 'CSV_BAD_NUMBER'], [3, 'CSV_BAD_NUMBER']),
  },
  {
    name: 'number-not-ascii-digits',
    about: 'empty, hex, Arabic-Indic and full-width digits',
    bytes: utf8(
      lines(
        H,
        'A,2020-01-01,',
        'A,2020-01-01,0x10',
        'A,2020-01-01,٣',
        'A,2020-01-01,５',
        'A,2020-01-01,007',
      ),
    ),
    expect: rejecting(
      out('A,2020-01-01,7'),
      [2, 'CSV_BAD_NUMBER'],
      [3, 'CSV_BAD_NUMBER'],
      [4, 'CSV_BAD_NUMBER'],
      [5, 'CSV_BAD_NUMBER'],
    ),
  },

  // --- Dates --------------------------------------------------------------------------------
  {
    name: 'date-not-zero-padded',
    about: '2020-2-3 is not YYYY-MM-DD',
    bytes: utf8(lines(H, 'A,2020-2-3,1', 'A,2020-02-03,1')),
    expect: rejecting(out('A,2020-02-03,1'), [2, 'CSV_BAD_DATE']),
  },
  {
    name: 'date-february-30',
    about: '2020-02-30 and 2020-04-31 are not calendar dates',
    bytes: utf8(lines(H, 'A,2020-02-30,1', 'A,2020-04-31,1', 'A,2020-04-30,1')),
    expect: rejecting(out('A,2020-04-30,1'), [2, 'CSV_BAD_DATE'], [3, 'CSV_BAD_DATE']),
  },
  {
    name: 'date-leap-years',
    about: '2021-02-29 and 1900-02-29 are not dates; 2020-02-29 and 2000-02-29 are',
    bytes: utf8(lines(H, 'A,2021-02-29,1', 'A,2020-02-29,1', 'A,1900-02-29,1', 'A,2000-02-29,1')),
    expect: rejecting(
      out('A,2020-02-29,1', 'A,2000-02-29,1'),
      [2, 'CSV_BAD_DATE'],
      [4, 'CSV_BAD_DATE'],
    ),
  },
  {
    name: 'date-us-format',
    about: '03/03/24 and other formats',
    bytes: utf8(
      lines(
        H,
        'A,03/03/24,1',
        'A,2020/01/01,1',
        'A,20200101,1',
        'A,2020-01-01T00:00:00,1',
        'A,2020-01-01,1',
      ),
    ),
    expect: rejecting(
      out('A,2020-01-01,1'),
      [2, 'CSV_BAD_DATE'],
      [3, 'CSV_BAD_DATE'],
      [4, 'CSV_BAD_DATE'],
      [5, 'CSV_BAD_DATE'],
    ),
  },
  {
    name: 'date-month-and-day-out-of-range',
    about: '2020-13-01, 2020-00-10, 2020-01-00, 2020-01-32',
    bytes: utf8(
      lines(
        H,
        'A,2020-13-01,1',
        'A,2020-00-10,1',
        'A,2020-01-00,1',
        'A,2020-01-32,1',
        'A,2020-12-31,1',
      ),
    ),
    expect: rejecting(
      out('A,2020-12-31,1'),
      [2, 'CSV_BAD_DATE'],
      [3, 'CSV_BAD_DATE'],
      [4, 'CSV_BAD_DATE'],
      [5, 'CSV_BAD_DATE'],
    ),
  },
  {
    name: 'date-extreme-years',
    about: '0000-01-01 and 9999-12-31 are dates; a quoted date keeps its spaces (bad)',
    bytes: utf8(
      lines(H, 'A,0000-01-01,1', 'A,9999-12-31,2', 'A," 2020-01-01",1', 'A, 2020-01-01 ,3'),
    ),
    expect: rejecting(out('A,0000-01-01,1', 'A,9999-12-31,2', 'A,2020-01-01,3'), [
      4,
      'CSV_BAD_DATE',
    ]),
  },

  // --- Songs --------------------------------------------------------------------------------
  {
    name: 'song-empty',
    about: 'an empty song',
    bytes: utf8(lines(H, ',2020-01-01,1', 'A,2020-01-01,1')),
    expect: rejecting(out('A,2020-01-01,1'), [2, 'CSV_EMPTY_VALUE']),
  },
  {
    name: 'song-quoted-empty',
    about: 'a quoted empty song ""',
    bytes: utf8(lines(H, '"",2020-01-01,1', 'A,2020-01-01,1')),
    expect: rejecting(out('A,2020-01-01,1'), [2, 'CSV_EMPTY_VALUE']),
  },
  {
    name: 'song-whitespace-only',
    about: 'spaces and tabs only: empty once trimmed; quoted they are kept (a real value)',
    bytes: utf8(lines(H, ' \t ,2020-01-01,1', '"   ",2020-01-01,2', 'A,2020-01-01,1')),
    expect: rejecting(out('"   ",2020-01-01,2', 'A,2020-01-01,1'), [2, 'CSV_EMPTY_VALUE']),
  },
  {
    name: 'song-all-rows-bad',
    about: 'every data row is bad: the run fails under both policies',
    bytes: utf8(lines(H, ',2020-01-01,1', 'A,2020-13-01,1', 'A,2020-01-01,x')),
    expect: allRejected([2, 'CSV_EMPTY_VALUE'], [3, 'CSV_BAD_DATE'], [4, 'CSV_BAD_NUMBER']),
  },
  {
    name: 'song-csv-injection',
    about: 'song names that look like spreadsheet formulas are aggregated as plain text',
    bytes: utf8(
      lines(
        H,
        '=SUM(A1),2020-01-01,1',
        '+1,2020-01-01,2',
        '-1,2020-01-01,3',
        '@x,2020-01-01,4',
        '=SUM(A1),2020-01-01,5',
        '"=HYPERLINK(""http://x"")",2020-01-01,6',
      ),
    ),
    expect: ok(
      out(
        '=SUM(A1),2020-01-01,6',
        '+1,2020-01-01,2',
        '-1,2020-01-01,3',
        '@x,2020-01-01,4',
        '"=HYPERLINK(""http://x"")",2020-01-01,6',
      ),
    ),
  },
  {
    name: 'song-csv-injection-sorted',
    about: 'the same names in byte order',
    bytes: utf8(
      lines(H, '=SUM(A1),2020-01-01,1', '+1,2020-01-01,2', '-1,2020-01-01,3', '@x,2020-01-01,4'),
    ),
    order: 'sorted',
    expect: ok(
      out('+1,2020-01-01,2', '-1,2020-01-01,3', '=SUM(A1),2020-01-01,1', '@x,2020-01-01,4'),
    ),
  },

  // --- Not CSV: binary files, gzip ------------------------------------------------------------
  {
    name: 'zip-named-csv',
    about: 'a ZIP archive holding a CSV, named .csv',
    bytes: memo(() => zipOf('plays.csv', Buffer.from(SMALL_CSV))),
    expect: fatal('CSV_NOT_TEXT', 1),
  },
  {
    name: 'png-named-csv',
    about: 'a PNG image named .csv',
    bytes: memo(png),
    expect: fatal('CSV_NOT_TEXT', 1),
  },
  {
    name: 'pdf-named-csv',
    about: 'a PDF document named .csv',
    bytes: utf8(
      '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n',
    ),
    expect: fatal('CSV_NOT_TEXT', 1),
  },
  {
    name: 'gzip-valid',
    about:
      'a gzip CSV named .csv: decompressed by aggregate() and the CLI, refused by aggregateSync',
    bytes: memo(() => gzipSync(Buffer.from(SMALL_CSV))),
    expect: ok(SMALL_OUT),
    sync: fatal('CSV_NOT_TEXT', 1),
    cli: ok(SMALL_OUT),
    reference: false,
  },
  {
    name: 'gzip-truncated',
    about: 'a gzip file cut in the middle',
    bytes: memo(() => {
      const gz = gzipSync(
        Buffer.from(
          lines(H, ...Array.from({ length: 2000 }, (_, i) => `song ${i},2020-01-01,${i}`)),
        ),
      )
      return gz.subarray(0, Math.floor(gz.length / 2))
    }),
    expect: fatal('CSV_BAD_GZIP'),
    sync: fatal('CSV_NOT_TEXT', 1),
    cli: fatal('CSV_BAD_GZIP'),
    reference: false,
  },
  {
    name: 'gzip-corrupt',
    about: 'a gzip file with damaged deflate data',
    bytes: memo(() => {
      const gz = Buffer.from(gzipSync(Buffer.from(SMALL_CSV.repeat(50))))
      for (let i = 12; i < gz.length - 8; i += 7) gz[i] = gz[i]! ^ 0x5a
      return gz
    }),
    expect: fatal('CSV_BAD_GZIP'),
    sync: fatal('CSV_NOT_TEXT', 1),
    cli: fatal('CSV_BAD_GZIP'),
    reference: false,
  },
  {
    name: 'gzip-bomb-rows',
    about: `${BOMB_ROWS} identical rows (16 MiB) in a small gzip; the file tests limit the input to 1 MiB`,
    bytes: memo(() => gzipSync(Buffer.from(`${H}\n${BOMB_ROW.repeat(BOMB_ROWS)}`), { level: 9 })),
    limits: { maxInputBytes: MB },
    expect: fatal('INPUT_TOO_LARGE'),
    sync: fatal('CSV_NOT_TEXT', 1),
    // The CLI has no size limit: it decompresses the whole file (to a temporary file).
    cli: ok(out(`Umbrella,2020-01-01,${BOMB_ROWS}`)),
    reference: false,
  },
  {
    name: 'gzip-bomb-zeros',
    about: 'a header and 16 MiB of NUL bytes in a small gzip; limited to 1 MiB in the file tests',
    bytes: memo(() =>
      gzipSync(Buffer.concat([Buffer.from(`${H}\n`), Buffer.alloc(16 * MB)]), { level: 9 }),
    ),
    limits: { maxInputBytes: MB },
    expect: fatal('INPUT_TOO_LARGE'),
    sync: fatal('CSV_NOT_TEXT', 1),
    // Unlimited: one 16 MiB row of a single field.
    cli: allRejected([2, 'CSV_FIELD_COUNT']),
    reference: false,
  },
  {
    name: 'gzip-of-gzip',
    about: 'a gzip file inside a gzip file: decompressed once, it is still not text',
    bytes: memo(() => gzipSync(gzipSync(Buffer.from(SMALL_CSV)))),
    expect: fatal('CSV_NOT_TEXT', 1),
    sync: fatal('CSV_NOT_TEXT', 1),
    reference: false,
  },
  {
    name: 'gzip-empty',
    about: 'a valid gzip of zero bytes',
    bytes: memo(() => gzipSync(Buffer.alloc(0))),
    expect: fatal('CSV_EMPTY_FILE'),
    sync: fatal('CSV_NOT_TEXT', 1),
    cli: fatal('CSV_EMPTY_FILE'),
    reference: false,
  },
  // Engine bug when written: maxInputBytes is enforced on gzip and streams, not on a plain file path.
  {
    name: 'plain-over-input-limit',
    about: 'a plain (not gzip) file larger than maxInputBytes (100 bytes in the file tests)',
    bytes: utf8(`${SMALL_CSV}${SMALL_CSV.slice(H.length + 1).repeat(3)}`),
    limits: { maxInputBytes: 100 },
    expect: fatal('INPUT_TOO_LARGE'),
    sync: ok(out('Umbrella,2020-01-01,400', 'In The End,2020-01-01,20')),
    reference: false,
  },
]
