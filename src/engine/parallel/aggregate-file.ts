/**
 * Aggregates a plain CSV file with worker threads:
 *
 * 1. read the header here; cut the data into one byte range per thread, each starting just
 *    after a line end (a guess: the line end may sit inside a quoted field);
 * 2. parse the ranges in parallel, each into hash-partitioned group tables (rows are staged
 *    and added one partition at a time, so each table stays in cache); a range stops at
 *    the first row starting at or after its end, so it knows exactly where the next range must
 *    start; a range whose guessed start differs is parsed again from the right place;
 * 3. merge: thread j folds its share of the partitions of every range and writes it in order;
 * 4. combine: one thread interleaves the threads' outputs into the output file.
 * Rejected rows are spooled per range and copied in line order once the line counts are known.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Aggregator, type RejectSummary } from '../aggregator.js'
import { EngineError, isEngineError } from '../errors.js'
import type { ColumnLayout } from '../header.js'
import { ByteWriter, writeHeader } from '../output.js'
import type { AggregateProgress, ProgressListener } from '../progress.js'
import { RejectsWriter } from '../rejects.js'
import { readRejectSpool } from '../rejects-spool.js'
import { type AggregateSummary, assertSomeRowsValid } from '../result.js'
import type { FileSink } from '../sinks.js'
import type { AggregateOptions, AggregateSpec } from '../spec.js'
import type { MergeResult, ParseResult, ParseTask } from './protocol.js'
import { ThreadPool } from './thread-pool.js'

/**
 * Hash partitions of the groups. Rows are added partition by partition, so each partition's
 * table stays in cache; thread j merges and writes partitions j, j + threads, ...
 */
const PARTITIONS = 256

/** Below this many bytes per thread, fewer threads are used. */
export const DEFAULT_MIN_RANGE_BYTES = 4 * 1024 * 1024

export interface ParallelFileOptions {
  path: string
  size: number
  spec: AggregateSpec
  options: AggregateOptions
  threads: number
  tempDir: string
  output: FileSink
  rejects: FileSink | undefined
  maxRowBytes: number | undefined
  minRangeBytes: number
  /** Budget for the groups of all threads together; past it they spill to disk. */
  memoryBytes: number
  signal: AbortSignal | undefined
  progress: ProgressListener
}

export async function aggregateFileParallel(o: ParallelFileOptions): Promise<AggregateSummary> {
  const header = readHeader(o.path, o.spec, o.maxRowBytes)
  const { layout, dataStart, dataLine } = header
  const dataBytes = o.size - dataStart
  const threads = Math.max(1, Math.min(o.threads, Math.floor(dataBytes / o.minRangeBytes)))
  const partitions = PARTITIONS
  const bounds = Array.from({ length: threads + 1 }, (_, i) =>
    i === threads ? o.size : dataStart + Math.floor((dataBytes * i) / threads),
  )
  const starts = bounds
    .slice(0, threads)
    .map((b, i) => (i === 0 ? b : lineStartAtOrAfter(o.path, b, o.size)))
  const work = mkdtempSync(join(o.tempDir, 'tally-'))
  const pool = new ThreadPool(threads)
  const onAbort = () => void pool.close()
  o.signal?.addEventListener('abort', onAbort)
  const live = Array.from({ length: threads }, () => ({
    bytes: 0,
    rows: 0,
    rejected: 0,
    groups: 0,
  }))
  const report = (phase: AggregateProgress['phase']) => {
    let bytes = dataStart
    let rows = 0
    let rejected = 0
    let groups = 0
    for (const l of live) {
      bytes += l.bytes
      rows += l.rows
      rejected += l.rejected
      groups += l.groups
    }
    o.progress({
      bytesDone: Math.min(bytes, o.size),
      bytesTotal: o.size,
      rows,
      rejected,
      groups,
      phase,
    })
  }
  try {
    const parseTask = (i: number, start: number): ParseTask => ({
      path: o.path,
      start,
      stop: bounds[i + 1]!,
      layout,
      options: o.options,
      partitions,
      maxRowBytes: o.maxRowBytes,
      rejectsPath: o.rejects ? join(work, `rejects-${i}-${start}.bin`) : undefined,
      memoryBytes: o.memoryBytes / threads,
      spillPrefix: join(work, `spill-${i}-${start}`),
    })
    const parse = (i: number, start: number) =>
      pool.run<ParseResult>(i, { type: 'parse', task: parseTask(i, start) }, (m) => {
        live[i] = { bytes: m.bytes, rows: m.rows, rejected: m.rejected, groups: m.groups }
        report('reading')
      })
    const outcomes = starts.map((start, i) => settle(parse(i, start)))
    // Validate the chain of ranges in file order; the first valid failure is the file's error.
    const results: ParseResult[] = []
    const lineBases: number[] = []
    let expectedStart = starts[0]!
    let lineBase = dataLine
    for (let i = 0; i < threads; i++) {
      let outcome = await outcomes[i]!
      if (o.signal?.aborted) throw abortError()
      if (starts[i] !== expectedStart) {
        // The guessed start fell inside a quoted field: parse this range again from the right place.
        outcome = await settle(parse(i, expectedStart))
        starts[i] = expectedStart
      }
      if (!outcome.ok)
        throw isEngineError(outcome.error) ? outcome.error.shiftLines(lineBase) : outcome.error
      const result = outcome.value
      live[i] = {
        bytes: result.bytes,
        rows: result.rows,
        rejected: result.rejected,
        groups: live[i]!.groups,
      }
      results.push(result)
      lineBases.push(lineBase)
      lineBase += result.lines
      expectedStart = result.endOffset
    }
    report('merging')

    let rowsRead = 0
    let rowsRejected = 0
    const firstRejects: RejectSummary[] = []
    results.forEach((r, i) => {
      rowsRead += r.rows
      rowsRejected += r.rejected
      for (const reject of r.firstRejects)
        firstRejects.push({ ...reject, line: reject.line + lineBases[i]! })
    })
    assertSomeRowsValid(rowsRead, rowsRejected, firstRejects.slice(0, 3))
    if (o.rejects)
      copyRejects(
        o.rejects,
        results.map((_, i) => join(work, `rejects-${i}-${starts[i]}.bin`)),
        lineBases,
      )

    const sources = results.map((r) => r.groups)
    const spills = Array.from({ length: partitions }, (_, p) =>
      results.flatMap((r) => (r.spills[p] ? [r.spills[p]] : [])),
    )
    const spilled = results.some((r) => r.spillCount > 0)
    // One thread and nothing spilled: its run is the output itself, no combine needed.
    const single = threads === 1 && !spilled
    const merging = Promise.all(
      Array.from({ length: threads }, (_, j) =>
        pool.run<MergeResult>(j, {
          type: 'merge',
          task: {
            worker: j,
            threads,
            partitions,
            sources,
            spills,
            spilled,
            layout,
            order: o.spec.order,
            totalColumn: o.spec.totalColumn,
            rowsPath: single ? o.output.tempPath : join(work, `part-${j}.csv`),
            keysPath: single ? undefined : join(work, `part-${j}.keys`),
          },
        }),
      ),
    )
    // The threads hold the groups now; without this thread's references they can be freed as
    // each thread finishes with them.
    for (const result of results) result.groups = { dictionaries: [], tables: [] }
    sources.length = 0
    const merged = await merging
    report('writing')
    if (!single) {
      await pool.run(0, {
        type: 'combine',
        task: {
          parts: merged.flatMap((m) => m.parts),
          order: o.spec.order,
          headerBytes: headerBytes(layout, o.spec.totalColumn),
          outputPath: o.output.tempPath,
        },
      })
    }
    const groups = merged.reduce((n, m) => n + m.groups, 0)
    const outputBytes = await o.output.commit()
    const rejectsBytes = (await o.rejects?.commit()) ?? 0
    report('done')
    const spillCount = results.reduce((n, r) => n + r.spillCount, 0)
    return {
      bytesRead: o.size,
      rowsRead,
      rowsRejected,
      groups,
      outputBytes,
      rejectsBytes,
      spills: spillCount,
    }
  } catch (error) {
    if (o.signal?.aborted) throw abortError()
    throw error
  } finally {
    o.signal?.removeEventListener('abort', onAbort)
    await pool.close()
    rmSync(work, { recursive: true, force: true })
  }
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

function copyRejects(sink: FileSink, spools: string[], lineBases: number[]): void {
  const writer = new RejectsWriter(sink.write)
  spools.forEach((spool, i) => {
    readRejectSpool(spool, (row) => writer.write(row, lineBases[i]!))
  })
  writer.end()
}

function headerBytes(layout: ColumnLayout, totalColumn: string): Uint8Array {
  const chunks: Uint8Array[] = []
  const out = new ByteWriter((c) => chunks.push(c), 4096)
  writeHeader(out, layout, totalColumn)
  out.flush()
  return Buffer.concat(chunks)
}

/** Reads the header with a small aggregator: the layout, where data starts and its line. */
function readHeader(
  path: string,
  spec: AggregateSpec,
  maxRowBytes: number | undefined,
): { layout: ColumnLayout; dataStart: number; dataLine: number } {
  const aggregator = new Aggregator(spec, { maxRowBytes, headerOnly: true })
  const fd = openSync(path, 'r')
  try {
    const chunk = new Uint8Array(64 * 1024)
    let position = 0
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, position)
      position += n
      if (n === 0) aggregator.end()
      else aggregator.push(chunk.subarray(0, n))
      const layout = aggregator.columnLayout
      if (layout !== undefined)
        return { layout, dataStart: aggregator.dataStart, dataLine: aggregator.dataLine }
      if (n === 0) throw new Error('unreachable: end() without a header throws')
    }
  } finally {
    closeSync(fd)
  }
}

/** The first position at or after `offset` that follows an LF (or the end of the file). */
function lineStartAtOrAfter(path: string, offset: number, size: number): number {
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
