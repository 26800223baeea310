/**
 * `aggregate(input, output, options)`: the engine's file and stream shell.
 *
 * A plain CSV file is split into byte ranges aggregated by worker threads (parallel/). A gzip
 * file or a stream is first written, decompressed, to a temporary file, then aggregated the
 * same way: one path for everything, bounded in memory. Tiny files skip the threads.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { open, rm, stat } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { Aggregator } from './aggregator.js'
import { EngineError, isEngineError } from './errors.js'
import {
  abortError,
  aggregateFileParallel,
  DEFAULT_MIN_RANGE_BYTES,
} from './parallel/aggregate-file.js'
import { type ProgressListener, throttleProgress } from './progress.js'
import { RejectsWriter } from './rejects.js'
import type { AggregateSummary } from './result.js'
import { FileSink, type OutputTarget } from './sinks.js'
import { type AggregateOptions, type AggregateSpec, createSpec, specOptions } from './spec.js'
import { writeSingleTable } from './sync.js'

/** A file path, or the bytes of a CSV (plain or gzip) as they arrive. */
export type AggregateInput = string | AsyncIterable<Uint8Array>

export interface AggregateRunOptions extends AggregateOptions {
  /** Where rejected rows go (`on_error=skip`); counted only when absent. */
  rejects?: OutputTarget
  /** Worker threads. Default: the number of cores. */
  threads?: number
  /** Memory budget for the groups in MiB, beyond which they spill to disk. */
  memoryMb?: number
  /** Directory for temporary files. Default: the system's. */
  tempDir?: string
  signal?: AbortSignal
  onProgress?: ProgressListener
  /** Longest row accepted, in bytes. */
  maxRowBytes?: number
  /** Largest input accepted after decompression, in bytes (a small gzip can hold terabytes). */
  maxInputBytes?: number
  /** Fewer threads are used when a thread would get fewer bytes than this. */
  minRangeBytes?: number
}

/** The default budget for the groups, in MiB. */
export const DEFAULT_MEMORY_MB = 1024

/** Smaller plain files are aggregated on the calling thread: starting threads would cost more. */
const IN_PROCESS_MAX_BYTES = 64 * 1024

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
  const memoryMb = options.memoryMb ?? DEFAULT_MEMORY_MB
  if (!(memoryMb > 0)) {
    throw new EngineError(
      'INVALID_OPTION_MEMORY',
      `memory must be a positive number of MiB, got ${memoryMb}`,
    )
  }
  if (options.signal?.aborted) throw abortError()
  const tempDir = options.tempDir ?? tmpdir()
  if (typeof input === 'string' && !(await isGzipFile(input))) {
    return aggregatePlainFile(input, output, spec, threads, memoryMb, tempDir, options)
  }
  const spool = join(tempDir, `.tally-input-${randomBytes(6).toString('hex')}.csv`)
  try {
    const source = typeof input === 'string' ? createReadStream(input) : input
    await spoolInput(source, spool, options)
    return await aggregatePlainFile(spool, output, spec, threads, memoryMb, tempDir, options)
  } finally {
    await rm(spool, { force: true })
  }
}

async function isGzipFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r')
  try {
    const head = Buffer.alloc(2)
    const { bytesRead } = await handle.read(head, 0, 2, 0)
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b
  } finally {
    await handle.close()
  }
}

/** Writes a stream to `path`, decompressed when it is gzip, refusing more than `maxInputBytes`. */
async function spoolInput(
  source: AsyncIterable<Uint8Array>,
  path: string,
  options: AggregateRunOptions,
): Promise<void> {
  const limit = options.maxInputBytes ?? Number.POSITIVE_INFINITY
  const progress = throttleProgress(options.onProgress)
  let bytes = 0
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      if (bytes > limit) {
        callback(
          new EngineError(
            'INPUT_TOO_LARGE',
            `the input is larger than ${limit} bytes once decompressed`,
          ),
        )
        return
      }
      progress({
        bytesDone: bytes,
        bytesTotal: undefined,
        rows: 0,
        rejected: 0,
        groups: 0,
        phase: 'receiving',
      })
      callback(null, chunk)
    },
  })
  try {
    await pipeline(gunzipIfNeeded(source), counter, createWriteStream(path), {
      signal: options.signal,
    })
  } catch (error) {
    if (options.signal?.aborted) throw abortError()
    if (isEngineError(error)) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code?.startsWith('Z_') || code === 'ERR_STREAM_PREMATURE_CLOSE') {
      throw new EngineError(
        'CSV_BAD_GZIP',
        `the gzip data is damaged or truncated (${(error as Error).message})`,
      )
    }
    throw error
  }
}

/** The bytes of a stream, decompressed when they start with the gzip magic number. */
async function* gunzipIfNeeded(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]()
  // The magic number is two bytes: gather chunks until there are two (or the stream ends).
  const head: Uint8Array[] = []
  let headBytes = 0
  while (headBytes < 2) {
    const next = await iterator.next()
    if (next.done) break
    head.push(next.value)
    headBytes += next.value.length
  }
  if (headBytes === 0) return
  const first = Buffer.concat(head)
  async function* all() {
    yield first
    for (;;) {
      const next = await iterator.next()
      if (next.done) return
      yield next.value
    }
  }
  if (first[0] === 0x1f && first[1] === 0x8b) {
    yield* Readable.from(all()).pipe(createGunzip())
  } else {
    yield* all()
  }
}

async function aggregatePlainFile(
  path: string,
  output: OutputTarget,
  spec: AggregateSpec,
  threads: number,
  memoryMb: number,
  tempDir: string,
  options: AggregateRunOptions,
): Promise<AggregateSummary> {
  const { size } = await stat(path)
  const limit = options.maxInputBytes ?? Number.POSITIVE_INFINITY
  if (size > limit) {
    throw new EngineError(
      'INPUT_TOO_LARGE',
      `the input is ${size} bytes, more than the ${limit} allowed`,
    )
  }
  const outputSink = new FileSink(output, tempDir)
  const rejectsSink =
    options.rejects === undefined ? undefined : new FileSink(options.rejects, tempDir)
  try {
    if (size < IN_PROCESS_MAX_BYTES) {
      return await aggregateInProcess(path, size, spec, outputSink, rejectsSink, options)
    }
    return await aggregateFileParallel({
      path,
      size,
      spec,
      options: specOptions(spec),
      threads,
      tempDir,
      output: outputSink,
      rejects: rejectsSink,
      maxRowBytes: options.maxRowBytes,
      minRangeBytes: options.minRangeBytes ?? DEFAULT_MIN_RANGE_BYTES,
      memoryBytes: memoryMb * 1024 * 1024,
      signal: options.signal,
      progress: throttleProgress(options.onProgress),
    })
  } catch (error) {
    outputSink.discard()
    rejectsSink?.discard()
    throw error
  }
}

/** The single-thread path for small files: one aggregator, then the writer. */
async function aggregateInProcess(
  path: string,
  size: number,
  spec: AggregateSpec,
  outputSink: FileSink,
  rejectsSink: FileSink | undefined,
  options: AggregateRunOptions,
): Promise<AggregateSummary> {
  const rejects = rejectsSink && new RejectsWriter(rejectsSink.write, spec)
  const aggregator = new Aggregator(spec, {
    maxRowBytes: options.maxRowBytes,
    onReject: rejects && ((row) => rejects.write(row)),
  })
  for await (const chunk of createReadStream(path)) aggregator.push(chunk)
  const state = aggregator.end()
  writeSingleTable(state, spec, outputSink.write)
  const table = state.tables[0]!
  rejects?.end()
  const outputBytes = await outputSink.commit()
  const rejectsBytes = (await rejectsSink?.commit()) ?? 0
  options.onProgress?.({
    bytesDone: size,
    bytesTotal: size,
    rows: state.counters.rows,
    rejected: state.counters.rejected,
    groups: table.size,
    phase: 'done',
  })
  return {
    bytesRead: state.counters.bytes,
    rowsRead: state.counters.rows,
    rowsRejected: state.counters.rejected,
    groups: table.size,
    outputBytes,
    rejectsBytes,
    spills: 0,
  }
}
