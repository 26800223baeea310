/**
 * One file aggregated in parts, by separate runs (other processes, other machines):
 *
 * - `readCsvHeader` reads the header from the first bytes of the input;
 * - `aggregatePart` aggregates the rows that start in one slice `[start, stop)` of the input,
 *   from a local file that holds only that slice (and a little past it, for its last row), into
 *   a part file; it needs no other part;
 * - `mergeParts` checks that the parts chain up (each starts where the previous one ended),
 *   then merges their groups into the output exactly as a single run would write it.
 *
 * A part's threads hand each other rows as a whole file's do (row-exchange.ts), so a part holds
 * each of its groups once and the merge folds one table per part into each partition.
 *
 * A slice after the first starts at a guess (just after a line end) that a quoted field can
 * make wrong; `partChainBreak` finds such a part, and the caller aggregates that slice again
 * from the right start (`exactStart`). A file error (a bad row with `on_error=fail`) is kept in
 * the part, not thrown: it is the file's error only if the part started in the right place.
 *
 * The part file's format is in `part-file.ts`.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { RejectSummary } from '../aggregator.js'
import { EngineError, isEngineError } from '../errors.js'
import { type ProgressListener, throttleProgress } from '../progress.js'
import { RejectSpoolWriter, readRejectSpool } from '../rejects-spool.js'
import { type AggregateSummary, assertSomeRowsValid } from '../result.js'
import { DEFAULT_MEMORY_MB } from '../run.js'
import { FileSink, type OutputTarget } from '../sinks.js'
import { type AggregateOptions, createSpec, specOptions } from '../spec.js'
import { DEFAULT_MIN_RANGE_BYTES } from './aggregate-file.js'
import { PartFile, type PartSummary, writePartFile } from './part-file.js'
import {
  abortError,
  type CsvHeader,
  copyRejects,
  lineStartAtOrAfter,
  mergeGroups,
  PARTITIONS,
  parseChain,
  type RangeCounters,
} from './phases.js'
import { ThreadPool } from './thread-pool.js'

export type { PartSummary } from './part-file.js'
export { type CsvHeader, readCsvHeader } from './phases.js'

/** The local file that holds a slice of the input. */
export interface PartInput {
  path: string
  /** Offset in the input of the file's first byte. */
  fileOffset: number
  /** The input's size in bytes. */
  inputBytes: number
}

export interface PartOptions extends AggregateOptions {
  header: CsvHeader
  /** The part takes the rows that start in `[start, stop)` of the input. */
  start: number
  stop: number
  /**
   * `start` is known to be a row start (the data start, or where the previous part ended).
   * Otherwise the part starts just after the first line end at or after it, and the file must
   * hold the byte before `start`.
   */
  exactStart: boolean
  threads?: number
  memoryMb?: number
  maxRowBytes?: number
  minRangeBytes?: number
  tempDir: string
  signal?: AbortSignal
  /** Bytes are counted within the slice: `bytesTotal` is `stop - start`. */
  onProgress?: ProgressListener
}

/** `short`: the file ends before the slice's last row does; give it more bytes. */
export type PartOutcome = { kind: 'part'; summary: PartSummary } | { kind: 'short' }

export async function aggregatePart(
  input: PartInput,
  partPath: string,
  o: PartOptions,
): Promise<PartOutcome> {
  if (o.signal?.aborted) throw abortError()
  const spec = createSpec(o)
  const fileBytes = statSync(input.path).size
  const fileEnd = input.fileOffset + fileBytes
  const inputEnd = fileEnd >= input.inputBytes
  const local = (offset: number) => offset - input.fileOffset
  const start = o.exactStart
    ? o.start
    : input.fileOffset + lineStartAtOrAfter(input.path, local(o.start), fileBytes)
  if (start === fileEnd && !inputEnd) return { kind: 'short' }
  const width = o.header.layout.groupKinds.length
  const nothing = { spills: [], rejectsPath: undefined, groups: [], width }
  const empty = { start, endOffset: start, bytes: 0, rows: 0, rejected: 0, lines: 0 }
  if (start >= o.stop) {
    const summary: PartSummary = { ...empty, firstRejects: [], error: null }
    writePartFile(partPath, summary, nothing)
    return { kind: 'part', summary }
  }
  const minRange = o.minRangeBytes ?? DEFAULT_MIN_RANGE_BYTES
  const threads = Math.max(1, Math.min(o.threads ?? 1, Math.floor((o.stop - start) / minRange)))
  const bounds = Array.from({ length: threads + 1 }, (_, i) =>
    i === threads ? o.stop : start + Math.floor(((o.stop - start) * i) / threads),
  )
  const starts = bounds
    .slice(0, threads)
    .map((b, i) =>
      i === 0 ? b : input.fileOffset + lineStartAtOrAfter(input.path, local(b), fileBytes),
    )
  const work = mkdtempSync(join(o.tempDir, 'tally-part-'))
  const pool = new ThreadPool(threads)
  const onAbort = () => void pool.close()
  o.signal?.addEventListener('abort', onAbort)
  const progress = throttleProgress(o.onProgress)
  const live: RangeCounters[] = starts.map(() => ({ bytes: 0, rows: 0, rejected: 0, groups: 0 }))
  try {
    const chain = await parseChain({
      pool,
      path: input.path,
      fileOffset: input.fileOffset,
      inputEnd,
      bounds,
      starts,
      layout: o.header.layout,
      options: specOptions(spec),
      maxRowBytes: o.maxRowBytes,
      memoryBytes: ((o.memoryMb ?? DEFAULT_MEMORY_MB) * 1024 * 1024) / threads,
      rejects: spec.onError === 'skip',
      spillAll: false,
      exchange: true,
      firstLine: 0,
      work,
      signal: o.signal,
      onRange: (i, counters) => {
        live[i] = counters
        progress(sumProgress(live, o.stop - o.start))
      },
    })
    if (chain === undefined) return { kind: 'short' }
    const { results, lineBases } = chain
    const last = results[results.length - 1]!
    const summary: PartSummary = {
      start,
      endOffset: last.endOffset,
      bytes: results.reduce((n, r) => n + r.bytes, 0),
      rows: results.reduce((n, r) => n + r.rows, 0),
      rejected: results.reduce((n, r) => n + r.rejected, 0),
      lines: lineBases[lineBases.length - 1]! + last.lines,
      firstRejects: results
        .flatMap((r, i) => r.firstRejects.map((x) => ({ ...x, line: x.line + lineBases[i]! })))
        .slice(0, 3),
      error: null,
    }
    const spills = Array.from({ length: PARTITIONS }, (_, p) =>
      results.flatMap((r) => (r.spills[p] ? [r.spills[p]] : [])),
    )
    let rejectsPath: string | undefined
    if (spec.onError === 'skip') {
      rejectsPath = join(work, 'rejects.bin')
      const spool = new RejectSpoolWriter(rejectsPath)
      chain.rejectSpools.forEach((path, i) => {
        readRejectSpool({ path }, (row) => spool.write({ ...row, line: row.line + lineBases[i]! }))
      })
      spool.close()
    }
    const groups = results.map((r) => r.groups)
    writePartFile(partPath, summary, { spills, rejectsPath, groups, width })
    progress({ ...sumProgress(live, o.stop - o.start), phase: 'done' })
    return { kind: 'part', summary }
  } catch (error) {
    if (o.signal?.aborted) throw abortError()
    if (!isEngineError(error) || error.code === 'ABORTED') throw error
    // The file's error if this part started in the right place: the merge decides.
    const summary: PartSummary = { ...empty, firstRejects: [], error: error.toJSON() }
    writePartFile(partPath, summary, nothing)
    return { kind: 'part', summary }
  } finally {
    o.signal?.removeEventListener('abort', onAbort)
    await pool.close()
    rmSync(work, { recursive: true, force: true })
  }
}

function sumProgress(live: RangeCounters[], total: number) {
  const sum = { bytesDone: 0, bytesTotal: total, rows: 0, rejected: 0, groups: 0 }
  for (const l of live) {
    sum.bytesDone += l.bytes
    sum.rows += l.rows
    sum.rejected += l.rejected
    sum.groups += l.groups
  }
  sum.bytesDone = Math.min(sum.bytesDone, total)
  return { ...sum, phase: 'reading' as const }
}

/** The summary of a part file. */
export function readPartSummary(path: string): PartSummary {
  return PartFile.open(path).summary
}

/**
 * The index of the first part that does not start where it must (the data start, then where
 * the previous part ended), or -1 when they all chain up. Aggregate that slice again from the
 * expected start (`exactStart`), then check again.
 */
export function partChainBreak(header: CsvHeader, parts: readonly PartSummary[]): number {
  let expected = header.dataStart
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    if (part.start !== expected) return i
    // A part that failed ends nowhere known: the parts after it cannot be checked.
    if (part.error !== null) return -1
    expected = part.endOffset
  }
  return -1
}

/** Where the part after `parts[i]` must start. */
export function expectedStart(header: CsvHeader, parts: readonly PartSummary[], i: number): number {
  return i === 0 ? header.dataStart : parts[i - 1]!.endOffset
}

export interface MergePartsOptions extends AggregateOptions {
  header: CsvHeader
  /** Memory budget for the groups in MiB: past it they are merged one partition at a time. */
  memoryMb?: number
  /** The input's size in bytes (for the summary and progress). */
  inputBytes: number
  rejects?: OutputTarget
  threads?: number
  tempDir: string
  signal?: AbortSignal
  onProgress?: ProgressListener
}

/**
 * Merges parts that chain up (`partChainBreak` is -1), in input order, into the output and
 * rejects exactly as one run over the whole input writes them. Throws the file's error if a
 * part met one, with its line numbers counted from the start of the input.
 */
export async function mergeParts(
  parts: readonly string[],
  output: OutputTarget,
  o: MergePartsOptions,
): Promise<AggregateSummary> {
  if (o.signal?.aborted) throw abortError()
  const spec = createSpec(o)
  const files = parts.map((path) => PartFile.open(path))
  const trailers = files.map((file) => file.summary)
  if (partChainBreak(o.header, trailers) !== -1) {
    throw new Error('mergeParts: the parts do not chain up; aggregate the broken one again')
  }
  const lineBases: number[] = []
  let lineBase = o.header.dataLine
  let rowsRead = 0
  let rowsRejected = 0
  const firstRejects: RejectSummary[] = []
  for (const t of trailers) {
    if (t.error !== null) throw EngineError.fromJSON(t.error).shiftLines(lineBase)
    lineBases.push(lineBase)
    rowsRead += t.rows
    rowsRejected += t.rejected
    for (const r of t.firstRejects) firstRejects.push({ ...r, line: r.line + lineBase })
    lineBase += t.lines
  }
  assertSomeRowsValid(rowsRead, rowsRejected, firstRejects.slice(0, 3))
  const report = (phase: 'merging' | 'writing' | 'done') =>
    o.onProgress?.({
      bytesDone: o.inputBytes,
      bytesTotal: o.inputBytes,
      rows: rowsRead,
      rejected: rowsRejected,
      groups: 0,
      phase,
    })
  report('merging')
  const spillsByPart = files.map((file) => file.spillSources())
  const spills = Array.from({ length: PARTITIONS }, (_, p) =>
    spillsByPart.flatMap((partSpills) => partSpills[p]!),
  )
  const rejectSources = files.map((file, i) => ({ ...file.rejects, lineBase: lineBases[i]! }))
  const outputSink = new FileSink(output, o.tempDir)
  const rejectsSink = o.rejects === undefined ? undefined : new FileSink(o.rejects, o.tempDir)
  const work = mkdtempSync(join(o.tempDir, 'tally-merge-'))
  const pool = new ThreadPool(Math.max(1, Math.min(o.threads ?? 1, PARTITIONS)))
  const onAbort = () => void pool.close()
  o.signal?.addEventListener('abort', onAbort)
  try {
    if (rejectsSink) copyRejects(rejectsSink, rejectSources, spec)
    // The parts' dictionaries in memory; their tables are read by partition as merged, all of
    // a thread's partitions at once within the budget, else one at a time.
    const held = files.flatMap((file) => file.readGroups()).map((groups) => ({ groups }))
    const budget = (o.memoryMb ?? DEFAULT_MEMORY_MB) * 1024 * 1024
    const groupBytes = files.reduce((n, file) => n + file.groupBytes, 0)
    const groups = await mergeGroups({
      pool,
      held,
      spills,
      spilled: groupBytes > budget || spills.some((sources) => sources.length > 0),
      layout: o.header.layout,
      spec,
      outputPath: outputSink.tempPath,
      work,
      onMerged: () => report('writing'),
    })
    const outputBytes = await outputSink.commit()
    const rejectsBytes = (await rejectsSink?.commit()) ?? 0
    report('done')
    return {
      bytesRead: o.inputBytes,
      rowsRead,
      rowsRejected,
      groups,
      outputBytes,
      rejectsBytes,
      spills: 0,
    }
  } catch (error) {
    outputSink.discard()
    rejectsSink?.discard()
    if (o.signal?.aborted) throw abortError()
    throw error
  } finally {
    o.signal?.removeEventListener('abort', onAbort)
    await pool.close()
    rmSync(work, { recursive: true, force: true })
  }
}
