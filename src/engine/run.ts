/**
 * `aggregate(input, output, options)`: the engine's file and stream shell. Picks the path:
 * a plain CSV file is split into byte ranges aggregated by worker threads; gzip files and
 * streams are aggregated on the calling thread as they arrive.
 */

import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { Aggregator } from './aggregator.js'
import { EngineError } from './errors.js'
import { groupOrder } from './order.js'
import { ByteWriter, writeGroups, writeHeader } from './output.js'
import {
  abortError,
  aggregateFileParallel,
  DEFAULT_MIN_RANGE_BYTES,
} from './parallel/aggregate-file.js'
import { type ProgressListener, throttleProgress } from './progress.js'
import { RejectsWriter } from './rejects.js'
import { type AggregateSummary, assertSomeRowsValid } from './result.js'
import { FileSink, type OutputTarget } from './sinks.js'
import { type AggregateOptions, type AggregateSpec, createSpec } from './spec.js'

/** A file path, or the bytes of a CSV as they arrive. */
export type AggregateInput = string | AsyncIterable<Uint8Array>

export interface AggregateRunOptions extends AggregateOptions {
  /** Where rejected rows go (`on_error=skip`); counted only when absent. */
  rejects?: OutputTarget
  /** Worker threads for a plain file. Default: the number of cores. */
  threads?: number
  /** Memory budget for the groups in MiB, beyond which they spill to disk. */
  memoryMb?: number
  /** Directory for temporary files. Default: the system's. */
  tempDir?: string
  signal?: AbortSignal
  onProgress?: ProgressListener
  maxRowBytes?: number
  /** Fewer threads are used when a thread would get fewer bytes than this. */
  minRangeBytes?: number
}

export async function aggregate(
  input: AggregateInput,
  output: OutputTarget,
  options: AggregateRunOptions = {},
): Promise<AggregateSummary> {
  const spec = createSpec(options)
  const threads = options.threads ?? availableParallelism()
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new EngineError(
      'INVALID_OPTION_THREADS',
      `threads must be an integer from 1 to 256, got ${threads}`,
    )
  }
  if (typeof input !== 'string') {
    return aggregateStream(gunzipIfNeeded(input), undefined, output, spec, options)
  }
  const handle = await open(input, 'r')
  let size: number
  let gzip: boolean
  try {
    size = (await handle.stat()).size
    const head = Buffer.alloc(2)
    await handle.read(head, 0, 2, 0)
    gzip = head[0] === 0x1f && head[1] === 0x8b
  } finally {
    await handle.close()
  }
  if (!gzip && size >= IN_PROCESS_MAX_BYTES) {
    const tempDir = options.tempDir ?? tmpdir()
    const outputSink = new FileSink(output, tempDir)
    const rejectsSink =
      options.rejects === undefined ? undefined : new FileSink(options.rejects, tempDir)
    try {
      return await aggregateFileParallel({
        path: input,
        size,
        spec,
        options: {
          groupBy: spec.groupBy.map((c) => c.name),
          sum: spec.sum.name,
          totalColumn: spec.totalColumn,
          order: spec.order,
          onError: spec.onError,
        },
        threads,
        tempDir,
        output: outputSink,
        rejects: rejectsSink,
        maxRowBytes: options.maxRowBytes,
        minRangeBytes: options.minRangeBytes ?? DEFAULT_MIN_RANGE_BYTES,
        memoryBytes: (options.memoryMb ?? DEFAULT_MEMORY_MB) * 1024 * 1024,
        signal: options.signal,
        progress: throttleProgress(options.onProgress),
      })
    } catch (error) {
      outputSink.discard()
      rejectsSink?.discard()
      throw error
    }
  }
  const source = createReadStream(input, { highWaterMark: 1 << 20 })
  return aggregateStream(
    gzip ? source.pipe(createGunzip()) : source,
    size,
    output,
    spec,
    options,
    () => source.bytesRead,
  )
}

/** The default budget for the groups, in MiB. */
export const DEFAULT_MEMORY_MB = 1024

/** Smaller plain files are aggregated on the calling thread: starting threads would cost more. */
const IN_PROCESS_MAX_BYTES = 64 * 1024

/** The single-thread path: one aggregator fed chunk by chunk. */
async function aggregateStream(
  source: AsyncIterable<Uint8Array>,
  bytesTotal: number | undefined,
  output: OutputTarget,
  spec: AggregateSpec,
  options: AggregateRunOptions,
  sourceBytes?: () => number,
): Promise<AggregateSummary> {
  const tempDir = options.tempDir ?? tmpdir()
  const progress = throttleProgress(options.onProgress)
  const rejectsSink =
    options.rejects === undefined ? undefined : new FileSink(options.rejects, tempDir)
  const outputSink = new FileSink(output, tempDir)
  try {
    const rejects = rejectsSink && new RejectsWriter(rejectsSink.write)
    const aggregator = new Aggregator(spec, {
      maxRowBytes: options.maxRowBytes,
      onReject: rejects && ((row) => rejects.write(row)),
    })
    const report = (phase: 'reading' | 'writing' | 'done') => {
      const counters = aggregator.counters
      progress({
        bytesDone: sourceBytes ? sourceBytes() : counters.bytes,
        bytesTotal,
        rows: counters.rows,
        rejected: counters.rejected,
        groups: aggregator.groupCount,
        phase,
      })
    }
    for await (const chunk of source) {
      if (options.signal?.aborted) throw abortError()
      aggregator.push(chunk)
      report('reading')
    }
    const state = aggregator.end()
    assertSomeRowsValid(state.counters.rows, state.counters.rejected, state.firstRejects)
    report('writing')
    const out = new ByteWriter(outputSink.write)
    writeHeader(out, state.layout!, spec.totalColumn)
    const table = state.tables[0]!
    writeGroups(out, table, state.dictionaries, groupOrder(table, state.dictionaries, spec.order))
    out.flush()
    rejects?.end()
    // An empty output still has its header; rejects exist even when there are none.
    rejectsSink?.write(new Uint8Array(0))
    const outputBytes = await outputSink.commit()
    const rejectsBytes = (await rejectsSink?.commit()) ?? 0
    report('done')
    return {
      bytesRead: state.counters.bytes,
      rowsRead: state.counters.rows,
      rowsRejected: state.counters.rejected,
      groups: table.size,
      outputBytes,
      rejectsBytes,
    }
  } catch (error) {
    outputSink.discard()
    rejectsSink?.discard()
    throw error
  }
}

/** The bytes of a stream, decompressed when they start with the gzip magic number. */
async function* gunzipIfNeeded(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]()
  const first = await iterator.next()
  if (first.done) return
  async function* all() {
    yield first.value
    for (;;) {
      const next = await iterator.next()
      if (next.done) return
      yield next.value
    }
  }
  if (first.value[0] === 0x1f && first.value[1] === 0x8b)
    yield* Readable.from(all()).pipe(createGunzip())
  else yield* all()
}
