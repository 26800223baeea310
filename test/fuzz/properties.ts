/**
 * The engine's fuzz properties, shared by the bounded run in `npm test`
 * (test/engine/engine.fuzz.test.ts) and the long run (`npm run fuzz`, test/fuzz/run.ts). This
 * module does not import Vitest, so the long run is a plain Node script: a failed check throws.
 *
 * 1. Arbitrary bytes (random, CSV-like tokens, either after a valid header): the engine never
 *    throws anything but an EngineError, never takes long, reports counts that add up (rows read
 *    = accepted + rejected, the rejects listed = the rejects counted), gives the same outcome in
 *    a random chunking, and the reference's outcome wherever the reference's rules cover the
 *    input.
 * 2. Generated CSV files mutated by inserting, deleting and replacing quotes, commas, CR, LF and
 *    digits: the same checks; whenever the reference accepts the input, the engine's output,
 *    rejects and counts are exactly the reference's.
 * 3. Generated CSV files as they are: equal to the reference whole, in a random chunking and
 *    one byte at a time.
 * 4. The file API with worker threads (slow: a few cases only): a generated CSV repeated past
 *    64 KiB, cut into small ranges for 2 to 4 threads, sometimes with a memory budget so small
 *    that the groups spill to disk, gives exactly what `aggregateSync` gives for the same bytes
 *    (output, rejected lines and codes, or the error), and leaves no temporary file.
 */

import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import {
  type AggregateSummary,
  aggregate,
  aggregateSync,
  FILE_ERROR_CODES,
  isEngineError,
  ROW_ERROR_CODES,
} from '../../src/engine/index.js'
import { chunksOf, randomChunks, seededRandom } from '../support/chunks.js'
import { type GeneratedCsv, generatedCsv } from '../support/csv-arbitrary.js'
import {
  isReferenceFailure,
  type ReferenceOptions,
  referenceAggregate,
} from '../support/reference.js'

/** No input here is over a few kilobytes: one taking this long is a hang. */
const SLOW_RUN_MS = 5_000

export type EngineRun =
  | {
      ok: true
      csv: string
      rejects: { line: number; code: string; column: string | undefined; raw: string }[]
      summary: AggregateSummary
    }
  | {
      ok: false
      code: string
      line: number | undefined
      column: string | undefined
      message: string
    }

function fail(message: string, details?: unknown): never {
  const shown = details === undefined ? '' : `\n${JSON.stringify(details, null, 1).slice(0, 4000)}`
  throw new Error(`${message}${shown}`)
}

/** The engine's result or EngineError; anything else thrown fails the property. */
export function runEngine(
  input: Uint8Array | readonly Uint8Array[],
  options: ReferenceOptions,
): EngineRun {
  const started = performance.now()
  let run: EngineRun
  try {
    const result = aggregateSync(input, options)
    run = {
      ok: true,
      csv: result.csv.toString('utf8'),
      rejects: result.rejected.map((r) => ({
        line: r.line,
        code: r.code,
        column: r.column,
        raw: Buffer.from(r.raw).toString('latin1'),
      })),
      summary: result.summary,
    }
  } catch (error) {
    if (!isEngineError(error)) {
      fail(
        `the engine threw something that is not an EngineError: ${(error as Error)?.stack ?? String(error)}`,
      )
    }
    run = {
      ok: false,
      code: error.code,
      line: error.line,
      column: error.column,
      message: error.message,
    }
  }
  const elapsed = performance.now() - started
  if (elapsed > SLOW_RUN_MS) fail(`the engine took ${Math.round(elapsed)} ms on a small input`)
  return run
}

const ROW_CODES: readonly string[] = ROW_ERROR_CODES
/** What a file in memory can fail with (no gzip, no size limits, no options, no cancel). */
const POSSIBLE_FILE_CODES: readonly string[] = FILE_ERROR_CODES.filter(
  (code) =>
    !code.startsWith('INVALID_OPTION') &&
    !['ABORTED', 'CSV_BAD_GZIP', 'INPUT_TOO_LARGE', 'CSV_ROW_TOO_LARGE'].includes(code),
)

/** What must hold for any input, whatever it holds. */
export function checkInvariants(
  bytes: Uint8Array,
  options: ReferenceOptions,
  run: EngineRun,
): void {
  const onError = options.onError ?? 'skip'
  if (!run.ok) {
    if (ROW_CODES.includes(run.code)) {
      if (onError !== 'fail') fail(`row error ${run.code} was fatal under on_error=skip`, run)
      if (!(run.line !== undefined && run.line >= 1)) fail('a row error without its line', run)
    } else if (!POSSIBLE_FILE_CODES.includes(run.code)) {
      fail(`unexpected error code ${run.code}`, run)
    }
    if (run.message.length === 0 || run.message.length > 1000 || /[\r\n]/.test(run.message)) {
      fail('the error message is not one short line', run)
    }
    return
  }
  const { summary, rejects } = run
  if (summary.rowsRejected !== rejects.length) {
    fail(`${rejects.length} rows listed as rejected, ${summary.rowsRejected} counted`, summary)
  }
  const accepted = summary.rowsRead - summary.rowsRejected
  if (summary.rowsRead > 0 && accepted <= 0) fail('a run with no accepted row succeeded', summary)
  if (summary.groups > Math.max(accepted, 0)) fail('more groups than accepted rows', summary)
  if (onError === 'fail' && rejects.length > 0) fail('rows rejected under on_error=fail', rejects)
  if (summary.bytesRead !== bytes.length) {
    fail(`bytesRead ${summary.bytesRead}, the input has ${bytes.length}`, summary)
  }
  for (let i = 0; i < rejects.length; i++) {
    const r = rejects[i]!
    if (!ROW_CODES.includes(r.code)) fail(`rejected with an unknown code ${r.code}`, r)
    if (r.line < 2 || (i > 0 && r.line <= rejects[i - 1]!.line)) {
      fail('rejected rows are not in line order after the header', rejects)
    }
  }
  if (!run.csv.endsWith('\n') || run.csv.split('\n', 1)[0]!.length === 0) {
    fail('the output does not start with a header and end with LF', run.csv)
  }
}

/** Inputs starting like this are refused by the engine but not by the reference. */
const ENGINE_ONLY_SIGNATURES = [
  [0xd0, 0xcf, 0x11, 0xe0], // .xls
  [0x42, 0x5a, 0x68], // bzip2
  [0xfd, 0x37, 0x7a, 0x58, 0x5a], // xz
  [0x28, 0xb5, 0x2f, 0xfd], // zstd
]

/**
 * True when a header name may hold, at its ends, white space other than spaces and tabs (CR or
 * LF inside quotes, NBSP, a BOM, ...): the engine matches names trimmed with
 * `String.prototype.trim` (all Unicode white space), the reference trims spaces and tabs only,
 * and the rules say only "trimmed". The header row is taken up to its first line end outside
 * quotes, after a BOM and blank lines.
 */
export function headerHasOtherWhiteSpace(bytes: Uint8Array): boolean {
  let p = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  let start = p
  let quoted = false
  for (; p < bytes.length; p++) {
    const b = bytes[p]!
    if (b === 0x22) quoted = !quoted
    else if (b === 0x0a && !quoted) {
      const line = Buffer.from(bytes.subarray(start, p)).toString('latin1')
      if (/[^ \t\r]/.test(line)) break
      start = p + 1
    }
  }
  let end = p
  if (end > start && bytes[end - 1] === 0x0d) end--
  const header = Buffer.from(bytes.subarray(start, end)).toString('utf8')
  return /[^\S \t]/u.test(header)
}

/**
 * Compares the engine's run with the reference's outcome; returns false when the reference's
 * rules do not cover the input (a malformed header, header names padded with other white space
 * than spaces and tabs, a binary signature only the engine knows), true when they matched.
 */
export function checkAgainstReference(
  bytes: Uint8Array,
  options: ReferenceOptions,
  run: EngineRun,
): boolean {
  if (ENGINE_ONLY_SIGNATURES.some((sig) => sig.every((b, i) => bytes[i] === b))) return false
  if (headerHasOtherWhiteSpace(bytes)) return false
  const reference = referenceAggregate(bytes, options)
  if (isReferenceFailure(reference)) {
    if (reference.error.startsWith('UNSPECIFIED')) return false
    const engine = run.ok
      ? { success: true, csv: run.csv, rejects: run.rejects }
      : {
          error: run.code,
          line: reference.line === undefined ? undefined : run.line,
          column: reference.column === undefined ? undefined : run.column,
        }
    const expected = { error: reference.error, line: reference.line, column: reference.column }
    if (!isDeepStrictEqual(engine, expected)) {
      fail('the engine differs from the reference (which fails)', { engine, reference: expected })
    }
    return true
  }
  const engine = run.ok
    ? {
        csv: run.csv,
        rejects: run.rejects,
        rowsRead: run.summary.rowsRead,
        rowsRejected: run.summary.rowsRejected,
        groups: run.summary.groups,
      }
    : { error: run.code, line: run.line, column: run.column, message: run.message }
  const expected = {
    csv: reference.csv,
    rejects: reference.rejects,
    rowsRead: reference.rowsRead,
    rowsRejected: reference.rejects.length,
    groups: reference.groups,
  }
  if (!isDeepStrictEqual(engine, expected)) {
    fail('the engine differs from the reference (which succeeds)', { engine, reference: expected })
  }
  return true
}

/** The same outcome for the whole input and for the input in `chunks`. */
function checkSameInChunks(
  label: string,
  chunks: readonly Uint8Array[],
  options: ReferenceOptions,
  whole: EngineRun,
): void {
  const chunked = runEngine(chunks, options)
  if (!isDeepStrictEqual(chunked, whole)) {
    fail(`a different outcome in ${label}`, { whole, chunked })
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs

export interface FuzzInput {
  bytes: Uint8Array
  options: ReferenceOptions
  /** Seeds the random chunking. */
  seed: number
  [fc.toStringMethod]: () => string
}

/** Bytes as readable text: printable ASCII as is, the rest as `\xNN`. */
export function showBytes(bytes: Uint8Array): string {
  let text = ''
  for (const b of bytes) {
    text +=
      b === 0x0a
        ? '\\n'
        : b === 0x0d
          ? '\\r'
          : b === 0x5c
            ? '\\\\'
            : b >= 0x20 && b < 0x7f
              ? String.fromCharCode(b)
              : `\\x${b.toString(16).padStart(2, '0')}`
  }
  return `"${text}"`
}

function fuzzInput(bytes: Uint8Array, options: ReferenceOptions, seed: number): FuzzInput {
  return {
    bytes,
    options,
    seed,
    [fc.toStringMethod]: () =>
      `{ bytes: ${showBytes(bytes)} (${bytes.length} bytes), options: ${JSON.stringify(options)}, seed: ${seed} }`,
  }
}

const latin1 = (text: string) => Buffer.from(text, 'latin1')

/** Pieces of CSV, as Latin-1 strings (one character per byte), that random files are made of. */
const TOKENS = [
  '"',
  '""',
  ',',
  '\r',
  '\n',
  '\r\n',
  ' ',
  '\t',
  'a',
  'Z',
  '0',
  '7',
  '9',
  '-',
  '2020-01-01',
  '2020-02-29',
  '2021-02-29',
  '99999999999999999999',
  '9007199254740993',
  '\0',
  '\xff',
  '\xc3',
  '\xa9',
  '\xc3\xa9',
  '\xef\xbb\xbf',
  '\xf0\x9f\x98\x80',
  'Song',
  'Date',
  'Number of Plays',
]

const csvLikeBytes = fc
  .array(fc.constantFrom(...TOKENS), { maxLength: 120 })
  .map((tokens) => latin1(tokens.join('')))

const HEADERS = [
  'Song,Date,Number of Plays\n',
  'Song,Date,Number of Plays\r\n',
  '\xef\xbb\xbfSong,Date,Number of Plays\n',
  '"Song","Date","Number of Plays"\n',
  'Number of Plays,Extra,date,SONG\n',
]

const options = fc.record({
  onError: fc.constantFrom('skip' as const, 'fail' as const),
  order: fc.constantFrom('first_seen' as const, 'sorted' as const),
})

/** A field: mostly a plausible value for its column, sometimes CSV-like garbage. */
const field = (...plausible: string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...plausible) },
    {
      weight: 1,
      arbitrary: fc.array(fc.constantFrom(...TOKENS), { maxLength: 4 }).map((t) => t.join('')),
    },
  )

const rowFields = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.tuple(
      field('Umbrella', 'a', ' b ', '"q,""x"""', '"multi\nline"', 'é'),
      field('2020-01-01', '2020-02-29', ' 2020-01-02 '),
      field('5', '0', '007', '99999999999999999999', ' 3 '),
    ),
  },
  { weight: 1, arbitrary: fc.array(field('a', '1', ''), { minLength: 1, maxLength: 5 }) },
)

/** Rows of mostly 3 plausible fields, with random line ends, as bytes. */
const rowLikeBytes = fc
  .array(fc.tuple(rowFields, fc.constantFrom('\n', '\n', '\r\n', '\r', '')), { maxLength: 12 })
  .map((rows) => latin1(rows.map(([fields, end]) => `${fields.join(',')}${end}`).join('')))

const afterHeader = (rest: fc.Arbitrary<Uint8Array>) =>
  fc
    .tuple(fc.constantFrom(...HEADERS), rest)
    .map(([header, bytes]) => Buffer.concat([latin1(header), bytes]))

/** Property 1's inputs. */
export const arbitraryBytesInput: fc.Arbitrary<FuzzInput> = fc
  .tuple(
    fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      csvLikeBytes,
      afterHeader(fc.uint8Array({ maxLength: 300 })),
      afterHeader(csvLikeBytes),
      afterHeader(rowLikeBytes),
    ),
    options,
    fc.integer(),
  )
  .map(([bytes, opts, seed]) => fuzzInput(bytes, opts, seed))

/** Bytes that carry the structure of a CSV: quotes, commas, line ends, and digits. */
const STRUCTURAL = [0x22, 0x2c, 0x0d, 0x0a, 0x30, 0x31, 0x32, 0x35, 0x39]

interface Mutation {
  kind: 'insert' | 'delete' | 'replace'
  /** Where, as a fraction of the length. */
  at: number
  byte: number
  count: number
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('insert' as const, 'delete' as const, 'replace' as const),
  // Unbiased: fast-check otherwise favours small values, which would all hit the header.
  at: fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000),
  byte: fc.constantFrom(...STRUCTURAL),
  count: fc.integer({ min: 1, max: 3 }),
})

/**
 * Applies `mutations`; deletions and replacements hit the structural byte at or after `at`.
 * With `from`, nothing before that offset changes (to keep the header intact).
 */
export function mutate(input: Uint8Array, mutations: readonly Mutation[], from = 0): Uint8Array {
  let bytes = Array.from(input)
  for (const m of mutations) {
    let at = from + Math.floor(m.at * (bytes.length - from + 1))
    if (m.kind === 'insert') {
      bytes.splice(at, 0, ...Array<number>(m.count).fill(m.byte))
      continue
    }
    const structural = bytes.findIndex((b, i) => i >= at && STRUCTURAL.includes(b))
    if (structural !== -1) at = structural
    if (at >= bytes.length) continue
    if (m.kind === 'delete') bytes.splice(at, m.count)
    else
      bytes = [
        ...bytes.slice(0, at),
        ...Array<number>(m.count).fill(m.byte),
        ...bytes.slice(at + m.count),
      ]
  }
  return Uint8Array.from(bytes)
}

/** Property 2's inputs: a generated CSV, mutated (half of the time only after its header). */
export const mutatedCsvInput: fc.Arbitrary<FuzzInput> = fc
  .tuple(
    generatedCsv(),
    fc.array(mutation, { minLength: 1, maxLength: 6 }),
    fc.boolean(),
    fc.integer(),
  )
  .map(([csv, mutations, keepHeader, seed]) => {
    const from = keepHeader ? csv.bytes.indexOf(0x0a) + 1 : 0
    return fuzzInput(mutate(csv.bytes, mutations, from), csv.options, seed)
  })

/** Property 3's inputs. */
export const validCsvInput: fc.Arbitrary<[GeneratedCsv, number]> = fc.tuple(
  generatedCsv(),
  fc.integer(),
)

// ---------------------------------------------------------------------------------------------
// Properties

/** Counts of how often the reference covered an input, for the runner's report. */
export const coverage = { compared: 0, notCovered: 0 }

function checkAll(bytes: Uint8Array, opts: ReferenceOptions, seed: number): EngineRun {
  const whole = runEngine(bytes, opts)
  checkInvariants(bytes, opts, whole)
  if (checkAgainstReference(bytes, opts, whole)) coverage.compared++
  else coverage.notCovered++
  checkSameInChunks('a random chunking', randomChunks(bytes, seededRandom(seed), 16), opts, whole)
  return whole
}

export function checkArbitraryBytes(input: FuzzInput): void {
  checkAll(input.bytes, input.options, input.seed)
}

export function checkMutatedCsv(input: FuzzInput): void {
  checkAll(input.bytes, input.options, input.seed)
}

export function checkValidCsv([csv, seed]: [GeneratedCsv, number]): void {
  const whole = checkAll(csv.bytes, csv.options, seed)
  checkSameInChunks('chunks of 1 byte', chunksOf(csv.bytes, 1), csv.options, whole)
}

// ---------------------------------------------------------------------------------------------
// The file API with threads

export interface FileApiInput {
  csv: GeneratedCsv
  copies: number
  threads: number
  spill: boolean
  [fc.toStringMethod]: () => string
}

export const fileApiInput: fc.Arbitrary<FileApiInput> = fc
  .record({
    csv: generatedCsv(),
    copies: fc.integer({ min: 1, max: 3 }),
    threads: fc.integer({ min: 2, max: 4 }),
    spill: fc.boolean(),
  })
  .map((input) => ({
    ...input,
    [fc.toStringMethod]: () =>
      `{ csv: ${fc.stringify(input.csv)}, copies: ${input.copies}, threads: ${input.threads}, spill: ${input.spill} }`,
  }))

/** At least 64 KiB (so that `aggregate()` uses its threads): `csv` repeated, each copy after LF. */
export function repeatedPast64KiB(bytes: Uint8Array, copies: number): Buffer {
  const unit = Buffer.concat([Buffer.from(bytes), Buffer.from('\n')])
  const times = Math.max(copies, Math.ceil((64 * 1024 + 1) / unit.length) * copies)
  return Buffer.concat(Array.from({ length: times }, () => unit))
}

let fileRoot: string | undefined
let fileRuns = 0

/** The reduced outcome: output and rejects (line, code), or the error's code and line. */
type Reduced =
  | { csv: string; rejects: [number, string][] }
  | { error: string; line: number | undefined }

export async function checkFileApi(input: FileApiInput): Promise<void> {
  const bytes = repeatedPast64KiB(input.csv.bytes, input.copies)
  const options = input.csv.options
  const sync = runEngine(bytes, options)
  const expected: Reduced = sync.ok
    ? { csv: sync.csv, rejects: sync.rejects.map((r) => [r.line, r.code]) }
    : { error: sync.code, line: sync.line }
  fileRoot ??= mkdtempSync(join(tmpdir(), 'tally-fuzz-file-'))
  const dir = join(fileRoot, `run-${++fileRuns}`)
  const tempDir = join(dir, 'temp')
  mkdirSync(tempDir, { recursive: true })
  const path = join(dir, 'input.csv')
  const out = join(dir, 'out.csv')
  const rejects = join(dir, 'rejects.csv')
  writeFileSync(path, bytes)
  let actual: Reduced
  try {
    await aggregate(path, out, {
      ...options,
      rejects,
      threads: input.threads,
      minRangeBytes: 4096,
      memoryMb: input.spill ? 0.01 : undefined,
      tempDir,
    })
    const rows = readFileSync(rejects, 'latin1').split('\n')
    actual = {
      csv: readFileSync(out, 'utf8'),
      // Line and code are the first two fields of a rejects row; neither is ever quoted.
      rejects: sync.ok
        ? sync.rejects.length === 0
          ? []
          : rows
              .slice(1)
              .filter((row) => /^\d+,CSV_[A-Z_]+,/.test(row))
              .map((row) => {
                const [line, code] = row.split(',', 2)
                return [Number(line), code!]
              })
        : [],
    }
  } catch (error) {
    if (!isEngineError(error))
      fail(`aggregate() threw a non-EngineError: ${(error as Error)?.stack}`)
    actual = { error: error.code, line: error.line }
    if (existsSync(out) || existsSync(rejects)) fail('an output or rejects file after a failure')
  }
  const leftovers = readdirSync(tempDir)
  rmSync(dir, { recursive: true, force: true })
  if (!isDeepStrictEqual(actual, expected)) {
    fail(`aggregate() with ${input.threads} threads differs from aggregateSync`, {
      actual,
      expected,
    })
  }
  if (leftovers.length > 0) fail('temporary files left behind', leftovers)
}

/** Removes the file property's temporary directory. */
export function cleanUpFileRuns(): void {
  if (fileRoot) rmSync(fileRoot, { recursive: true, force: true, maxRetries: 3 })
  fileRoot = undefined
}

export interface NamedProperty {
  name: string
  /** Share of the runs this property gets in the long run. */
  share: number
  property: () => fc.IProperty<[unknown]> | fc.IAsyncProperty<[unknown]>
}

/** A synchronous property over `arbitrary`, with the input type erased for a common list. */
function property<T>(
  arbitrary: fc.Arbitrary<T>,
  check: (input: T) => void,
): fc.IProperty<[unknown]> {
  return fc.property(arbitrary as fc.Arbitrary<unknown>, (input) => check(input as T))
}

export const PROPERTIES: readonly NamedProperty[] = [
  {
    name: 'arbitrary bytes',
    share: 0.4,
    property: () => property(arbitraryBytesInput, checkArbitraryBytes),
  },
  {
    name: 'mutated valid files',
    share: 0.4,
    property: () => property(mutatedCsvInput, checkMutatedCsv),
  },
  {
    name: 'valid files',
    share: 0.2,
    property: () => property(validCsvInput, checkValidCsv),
  },
  {
    name: 'file API with threads',
    // Each case starts worker threads (a few hundred milliseconds).
    share: 0.002,
    property: () =>
      fc.asyncProperty(fileApiInput as fc.Arbitrary<unknown>, (input) =>
        checkFileApi(input as FileApiInput),
      ),
  },
]
