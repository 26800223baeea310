/**
 * Aggregates a plain CSV file with worker threads:
 *
 * 1. read the header here; cut the data into one byte range per thread, each starting just
 *    after a line end (a guess: the line end may sit inside a quoted field);
 * 2. parse the ranges in parallel into hash-partitioned group tables (rows are staged and
 *    added one partition at a time, so each table stays in cache); thread j owns partitions
 *    j, j + threads, ... and hands the plain rows of other partitions to their owners
 *    (row-exchange.ts), so each group is held once. A range stops at the first row starting
 *    at or after its end, so it knows exactly where the next range must start; when a guessed
 *    start proves wrong, the ranges are parsed again without the exchange;
 * 3. merge: thread j folds what other threads hold of its partitions (little) and sorts them into
 *    output order;
 * 4. write: each thread writes a range of the output keys, interleaving every thread's groups,
 *    in place in the output file (spilled groups are merged one partition at a time into sorted
 *    runs on disk, which the threads interleave the same way).
 * Rejected rows are spooled per range and copied in line order once the line counts are known.
 */
import { createReadStream, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { RejectSummary } from '../aggregator.js'
import type { AggregateProgress, ProgressListener } from '../progress.js'
import { type AggregateSummary, assertSomeRowsValid } from '../result.js'
import type { FileSink } from '../sinks.js'
import type { AggregateOptions, AggregateSpec } from '../spec.js'
import { wholeFile } from '../spill.js'
import {
  abortError,
  copyRejects,
  lineStartAtOrAfter,
  mergeGroups,
  PARTITIONS,
  parseChain,
  type RangeCounters,
  readCsvHeader,
} from './phases.js'
import { ThreadPool } from './thread-pool.js'

export { abortError } from './phases.js'

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
  const { layout, dataStart, dataLine } = await readCsvHeader(
    createReadStream(o.path, { highWaterMark: 64 * 1024 }),
    { ...o.options, maxRowBytes: o.maxRowBytes },
  )
  const dataBytes = o.size - dataStart
  const threads = Math.max(1, Math.min(o.threads, Math.floor(dataBytes / o.minRangeBytes)))
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
  const live: RangeCounters[] = starts.map(() => ({ bytes: 0, rows: 0, rejected: 0, groups: 0 }))
  const report = (phase: AggregateProgress['phase']) => {
    const sum = { bytes: dataStart, rows: 0, rejected: 0, groups: 0 }
    for (const l of live) {
      sum.bytes += l.bytes
      sum.rows += l.rows
      sum.rejected += l.rejected
      sum.groups += l.groups
    }
    o.progress({
      bytesDone: Math.min(sum.bytes, o.size),
      bytesTotal: o.size,
      rows: sum.rows,
      rejected: sum.rejected,
      groups: sum.groups,
      phase,
    })
  }
  try {
    const chain = await parseChain({
      pool,
      path: o.path,
      fileOffset: 0,
      inputEnd: true,
      bounds,
      starts,
      layout,
      options: o.options,
      maxRowBytes: o.maxRowBytes,
      memoryBytes: o.memoryBytes / threads,
      rejects: o.rejects !== undefined,
      spillAll: false,
      exchange: true,
      firstLine: dataLine,
      work,
      signal: o.signal,
      onRange: (i, counters) => {
        live[i] = counters
        report('reading')
      },
    })
    if (chain === undefined) throw new Error('unreachable: a whole file is never short')
    const { results, lineBases } = chain
    results.forEach((r, i) => {
      live[i] = { bytes: r.bytes, rows: r.rows, rejected: r.rejected, groups: live[i]!.groups }
    })
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
    if (o.rejects) {
      const sources = chain.rejectSpools.map((path, i) => ({ path, lineBase: lineBases[i]! }))
      copyRejects(o.rejects, sources, o.spec)
    }

    const groups = await mergeGroups({
      pool,
      held: results,
      spills: Array.from({ length: PARTITIONS }, (_, p) =>
        results.flatMap((r) => (r.spills[p] ? [wholeFile(r.spills[p])] : [])),
      ),
      spilled: results.some((r) => r.spillCount > 0),
      layout,
      spec: o.spec,
      outputPath: o.output.tempPath,
      work,
      onMerged: () => report('writing'),
    })
    const outputBytes = await o.output.commit()
    const rejectsBytes = (await o.rejects?.commit()) ?? 0
    report('done')
    return {
      bytesRead: o.size,
      rowsRead,
      rowsRejected,
      groups,
      outputBytes,
      rejectsBytes,
      spills: results.reduce((n, r) => n + r.spillCount, 0),
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
