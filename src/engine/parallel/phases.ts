/**
 * The phases of a threaded aggregation, shared by a whole file (`aggregate-file.ts`) and by
 * parts of one (`parts.ts`): parse a chain of byte ranges in parallel, then merge the groups
 * partition by partition and combine the threads' runs into the output.
 */
import { closeSync, mkdirSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { Aggregator } from '../aggregator.js'
import { EngineError, isEngineError } from '../errors.js'
import type { ColumnLayout } from '../header.js'
import { ByteWriter, writeHeader } from '../output.js'
import { RejectsWriter } from '../rejects.js'
import { readRejectSpool } from '../rejects-spool.js'
import type { FileSink } from '../sinks.js'
import { type AggregateOptions, type AggregateSpec, createSpec } from '../spec.js'
import type { SpillSource } from '../spill.js'
import { compareKeys, cutKeys } from './merge-key.js'
import type { MergeResult, ParsedGroups, ParseResult, ParseTask, SortedRun } from './protocol.js'
import { exchangeRings } from './row-exchange.js'
import type { ThreadPool } from './thread-pool.js'

/**
 * Hash partitions of the groups. Rows are added partition by partition, so each partition's
 * table stays in cache; thread j merges and writes partitions j, j + threads, ...
 */
export const PARTITIONS = 256

/** Where the data starts: what the header tells. */
export interface CsvHeader {
  layout: ColumnLayout
  /** Byte offset of the first data row. */
  dataStart: number
  /** Line number of the first data row. */
  dataLine: number
}

export interface RangeCounters {
  bytes: number
  rows: number
  rejected: number
  groups: number
}

export interface ChainTask {
  pool: ThreadPool
  /** The file holding the input's bytes from `fileOffset` on. */
  path: string
  fileOffset: number
  /** The file ends where the input does. */
  inputEnd: boolean
  /** Range i takes the rows starting in `[starts[i], bounds[i + 1])`. */
  bounds: number[]
  /** Guessed starts, each just after a line end; the first is exact. */
  starts: number[]
  layout: ColumnLayout
  options: AggregateOptions
  maxRowBytes: number | undefined
  /** Memory budget of each range's groups. */
  memoryBytes: number
  /** Spool rejected rows (to `rejectSpools`). */
  rejects: boolean
  /** Every group ends up in the spill files. */
  spillAll: boolean
  /**
   * The threads hand each other the rows of the partitions they own (row-exchange.ts). Should a
   * guessed start prove wrong, the rows handed on were wrong too: the chain is parsed again
   * without the exchange.
   */
  exchange?: boolean
  /** Line number of the first range's first row: errors are shifted by it. */
  firstLine: number
  /** Directory for the ranges' spill and reject files. */
  work: string
  signal: AbortSignal | undefined
  onRange: (range: number, counters: RangeCounters) => void
}

export interface Chain {
  results: ParseResult[]
  /** Where each range really started. */
  starts: number[]
  /** Line number of each range's first row. */
  lineBases: number[]
  /** Each range's spooled rejects (with `rejects`). */
  rejectSpools: string[]
}

/**
 * Parses the ranges in parallel and validates them in order: a range whose guessed start is
 * not where the previous range ended (the guess fell inside a quoted field) is parsed again from
 * the right place. The first error of a valid range is the file's error, with its line shifted.
 * Undefined when the file ended before the last row did (`short`).
 */
export async function parseChain(c: ChainTask): Promise<Chain | undefined> {
  const n = c.starts.length
  const rejectsPath = (i: number, start: number) => join(c.work, `rejects-${i}-${start}.bin`)
  const task = (i: number, start: number): ParseTask => ({
    path: c.path,
    fileOffset: c.fileOffset,
    inputEnd: c.inputEnd,
    start,
    stop: c.bounds[i + 1]!,
    layout: c.layout,
    options: c.options,
    partitions: PARTITIONS,
    maxRowBytes: c.maxRowBytes,
    rejectsPath: c.rejects ? rejectsPath(i, start) : undefined,
    memoryBytes: c.memoryBytes,
    spillPrefix: join(c.work, `spill-${i}-${start}`),
    spillAll: c.spillAll,
  })
  const exchange =
    c.exchange && n > 1
      ? exchangeRings(
          n,
          c.layout.groupKinds.map((k) => k === 'date'),
        )
      : undefined
  const parse = (i: number, start: number) =>
    settle(
      c.pool.run<ParseResult>(
        i,
        { type: 'parse', task: { ...task(i, start), exchange: exchange?.[i] } },
        (m) =>
          c.onRange(i, { bytes: m.bytes, rows: m.rows, rejected: m.rejected, groups: m.groups }),
      ),
    )
  const starts = [...c.starts]
  const outcomes = starts.map((start, i) => parse(i, start))
  const results: ParseResult[] = []
  const lineBases: number[] = []
  let expectedStart = starts[0]!
  let lineBase = c.firstLine
  for (let i = 0; i < n; i++) {
    let outcome = await outcomes[i]!
    if (c.signal?.aborted) throw abortError()
    if (starts[i] !== expectedStart && exchange) {
      await Promise.all(outcomes)
      const work = join(c.work, 'again')
      mkdirSync(work)
      return parseChain({ ...c, exchange: false, work })
    }
    if (starts[i] !== expectedStart) {
      // The guessed start fell inside a quoted field: parse this range again from the right place.
      outcome = await parse(i, expectedStart)
      starts[i] = expectedStart
    }
    if (!outcome.ok)
      throw isEngineError(outcome.error) ? outcome.error.shiftLines(lineBase) : outcome.error
    const result = outcome.value
    if (result.short) return undefined
    results.push(result)
    lineBases.push(lineBase)
    lineBase += result.lines
    expectedStart = result.endOffset
  }
  return { results, starts, lineBases, rejectSpools: starts.map((s, i) => rejectsPath(i, s)) }
}

export interface MergeGroupsTask {
  pool: ThreadPool
  /** Groups still in memory; each is dropped here once the threads hold it. */
  held: { groups: ParsedGroups }[]
  /** Per partition, its spilled groups. */
  spills: SpillSource[][]
  spilled: boolean
  layout: ColumnLayout
  spec: AggregateSpec
  /** Written whole, header first. */
  outputPath: string
  work: string
  /** Called once the groups are merged, before they are written. */
  onMerged: () => void
}

/**
 * Thread j merges partitions j, j + threads, ... of every source and puts them in output order;
 * then the threads interleave every thread's groups (or, when groups spilled, the sorted runs
 * written) into the output, a range of merge keys each (`writeOutput`). Resolves with the group
 * count.
 */
export async function mergeGroups(m: MergeGroupsTask): Promise<number> {
  const threads = m.pool.size
  const sources = m.held.map((h) => h.groups)
  const merging = Promise.all(
    Array.from({ length: threads }, (_, j) =>
      m.pool.run<MergeResult>(j, {
        type: 'merge',
        task: {
          worker: j,
          threads,
          partitions: PARTITIONS,
          sources,
          spills: m.spills,
          spilled: m.spilled,
          layout: m.layout,
          order: m.spec.order,
          escapeFormulas: m.spec.escapeFormulas,
          runsPath: join(m.work, `run-${j}`),
        },
      }),
    ),
  )
  // The threads hold the groups now; without this thread's references they can be freed as
  // each thread finishes with them.
  for (const h of m.held) h.groups = { dictionaries: [], tables: [] }
  sources.length = 0
  const merged = await merging
  m.onMerged()
  await writeOutput(m, merged)
  return merged.reduce((n, r) => n + r.groups, 0)
}

/**
 * Writes the output on every thread: the merge keys are cut into one range per thread at the
 * samples, and each thread writes the rows of its range where they belong in the output file,
 * the first one the header too. From every thread's merged groups (`write`), or from the sorted
 * runs written when groups spilled (`combine`).
 */
async function writeOutput(m: MergeGroupsTask, merged: MergeResult[]): Promise<void> {
  const shares = merged.flatMap((r) => (r.merged ? [r.merged] : []))
  const runs = merged.flatMap((r) => r.runs)
  const samples = [...shares, ...runs].flatMap((source) => source.samples.map((s) => s.key))
  const bounds = cutKeys(samples, m.pool.size)
  const range = { order: m.spec.order, headerBytes: headerBytes(m.layout, m.spec) }
  closeSync(openSync(m.outputPath, 'w'))
  await Promise.all(
    [undefined, ...bounds].map((from, t) => {
      const piece = { ...range, from, to: bounds[t], outputPath: m.outputPath }
      return m.pool.run(
        t,
        m.spilled
          ? {
              type: 'combine',
              task: { ...piece, parts: runs.map((run) => ({ ...run, ...startAt(run, from) })) },
            }
          : { type: 'write', task: { ...piece, shares, escapeFormulas: m.spec.escapeFormulas } },
      )
    }),
  )
}

/** Where a combine of keys from `from` on starts reading a run: its last sample before `from`. */
function startAt(run: SortedRun, from: Uint8Array | undefined) {
  let start = { keysOffset: 0, rowsOffset: 0 }
  if (from === undefined) return start
  for (const sample of run.samples) {
    if (compareKeys(sample.key, from) >= 0) break
    start = { keysOffset: sample.keysOffset, rowsOffset: sample.rowsOffset }
  }
  return start
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error }

/** A promise that never rejects, so an unawaited failure is not an unhandled rejection. */
function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: Error) => ({ ok: false as const, error }),
  )
}

export function abortError(): EngineError {
  return new EngineError('ABORTED', 'the aggregation was canceled')
}

/** A spooled reject file, or a byte range of one. */
export interface RejectSource {
  path: string
  start?: number
  end?: number
  /** Added to the spooled line numbers. */
  lineBase: number
}

/** Copies spooled rejected rows into the rejects CSV, in the order given. */
export function copyRejects(sink: FileSink, sources: RejectSource[], spec: AggregateSpec): void {
  const writer = new RejectsWriter(sink.write, { escapeFormulas: spec.escapeFormulas })
  for (const source of sources) {
    readRejectSpool(source, (row) => writer.write(row, source.lineBase))
  }
  writer.end()
}

function headerBytes(layout: ColumnLayout, spec: AggregateSpec): Uint8Array {
  const chunks: Uint8Array[] = []
  const out = new ByteWriter((c) => chunks.push(c), 4096)
  writeHeader(out, layout, spec.totalColumn, spec.escapeFormulas)
  out.flush()
  return Buffer.concat(chunks)
}

/**
 * Reads the header from the input's first bytes (as many chunks as the header needs). With
 * `moreFollow`, the chunks are only the start of the input: undefined when they end before the
 * header does.
 */
export async function readCsvHeader(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options?: HeaderOptions,
): Promise<CsvHeader>
export async function readCsvHeader(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: HeaderOptions,
  moreFollow: boolean,
): Promise<CsvHeader | undefined>
export async function readCsvHeader(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: HeaderOptions = {},
  moreFollow = false,
): Promise<CsvHeader | undefined> {
  const aggregator = new Aggregator(createSpec(options), {
    maxRowBytes: options.maxRowBytes,
    headerOnly: true,
  })
  for await (const chunk of chunks) {
    aggregator.push(chunk)
    const layout = aggregator.columnLayout
    if (layout !== undefined) {
      return { layout, dataStart: aggregator.dataStart, dataLine: aggregator.dataLine }
    }
  }
  if (moreFollow) return undefined
  aggregator.end()
  const layout = aggregator.columnLayout
  if (layout === undefined) throw new Error('unreachable: end() without a header throws')
  return { layout, dataStart: aggregator.dataStart, dataLine: aggregator.dataLine }
}

export type HeaderOptions = AggregateOptions & { maxRowBytes?: number }

/**
 * The first position at or after `offset` that follows an LF, or `size` (the file's) when no
 * LF follows. Reads from `offset - 1`, so that byte must be in the file when `offset > 0`.
 */
export function lineStartAtOrAfter(path: string, offset: number, size: number): number {
  if (offset === 0) return 0
  const fd = openSync(path, 'r')
  try {
    const chunk = new Uint8Array(64 * 1024)
    let position = offset - 1
    while (position < size) {
      const n = readSync(fd, chunk, 0, chunk.length, position)
      if (n === 0) break
      const at = chunk.subarray(0, n).indexOf(0x0a)
      if (at !== -1) return position + at + 1
      position += n
    }
    return size
  } finally {
    closeSync(fd)
  }
}
