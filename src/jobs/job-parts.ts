/**
 * A job's input aggregated in parts, reading the input by byte ranges (the engine's
 * `aggregatePart` / `mergeParts`, see src/engine/parallel/parts.ts):
 *
 * - split across workers: each part is aggregated by whichever worker takes it and stored as a
 *   blob; the job's last step merges the stored parts (`runPart`, `mergeStoredParts`);
 * - one after the other, on a worker whose storage is remote: its local disk then holds one
 *   slice of the input at a time, never the whole file (`aggregateInSlices`).
 *
 * A slice reads the bytes `[bound - 1, next bound + slack)`: the byte before tells whether it
 * starts on a row; when its last row runs past the slack, it asks for more. A part whose
 * guessed start fell inside a quoted field is aggregated again from the right place.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import {
  type AggregateOptions,
  type AggregateProgress,
  type AggregateSummary,
  aggregatePart,
  type CsvHeader,
  expectedStart,
  mergeParts,
  type PartSummary,
  partChainBreak,
  readCsvHeader,
  readPartSummary,
} from '../engine/index.js'
import type { Storage } from '../storage/storage.js'
import type { Job } from './job.js'

/** Bytes read past a slice's end for its last row, at first; quadrupled while too few. */
const SLICE_SLACK_BYTES = 1024 * 1024
/** Bytes read for the header at first; quadrupled while the header runs past them. */
const HEADER_BYTES = 64 * 1024

export interface PartsContext {
  storage: Storage
  threads: number
  memoryMb: number
  /** This run's scratch directory. */
  work: string
  signal: AbortSignal
  onProgress: (progress: AggregateProgress) => void
}

/** One part of a split job: which run split it, which slice, of how many. */
export interface PartRef {
  runId: string
  index: number
  count: number
}

export function partKey(jobId: string, ref: Omit<PartRef, 'count'>): string {
  return `parts/${jobId}/${ref.runId}-${ref.index}.part`
}

/** Every part blob of a job, whichever run wrote it. */
export function partsPrefix(jobId: string): string {
  return `parts/${jobId}/`
}

export function engineOptions(job: Job): AggregateOptions {
  return {
    order: job.options.order,
    onError: job.options.onError,
    groupBy: job.options.groupBy,
    sum: job.options.sum,
    escapeFormulas: job.options.escapeFormulas === true,
  }
}

/** Whether the stored input is gzip (it cannot be read by byte ranges). */
export async function isGzipInput(storage: Storage, job: Job): Promise<boolean> {
  const head = await readAll(await storage.get(job.input.key, { start: 0, end: 1 }))
  return head.length === 2 && head[0] === 0x1f && head[1] === 0x8b
}

/** The input's header. Throws the engine's error for a bad one. */
export async function readInputHeader(storage: Storage, job: Job): Promise<CsvHeader> {
  for (let bytes = HEADER_BYTES; ; bytes *= 4) {
    const whole = bytes >= job.input.bytes
    const stream = await storage.get(job.input.key, { start: 0, end: bytes - 1 })
    try {
      const header = await readCsvHeader(stream, engineOptions(job), !whole)
      if (header) return header
    } finally {
      stream.destroy()
    }
  }
}

/** `count` slices of the data, as `count + 1` bounds. */
export function sliceBounds(header: CsvHeader, inputBytes: number, count: number): number[] {
  const data = inputBytes - header.dataStart
  return Array.from({ length: count + 1 }, (_, i) =>
    i === count ? inputBytes : header.dataStart + Math.floor((data * i) / count),
  )
}

/**
 * Aggregates slice `index` into the part file at `partPath`, reading only its bytes: in place
 * when the store is local, else downloaded first.
 */
async function aggregateSlice(
  c: PartsContext,
  job: Job,
  header: CsvHeader,
  bounds: readonly number[],
  index: number,
  /** The slice's bound (a guess, but for the first), or where the previous part ended. */
  start: number,
  exactStart: boolean,
  partPath: string,
  /** The slice's first download, already started (`downloadSlice`). */
  started?: Promise<SliceFile>,
): Promise<PartSummary> {
  const inputBytes = job.input.bytes
  const stop = bounds[index + 1]!
  const from = exactStart ? start : start - 1
  const slicePath = join(c.work, `slice-${index}`)
  const local = c.storage.supportsLocalPath
  const inPlace = local ? await c.storage.localPath(job.input.key) : undefined
  try {
    for (let slack = SLICE_SLACK_BYTES; ; slack *= 4) {
      if (inPlace === undefined) {
        const download =
          started ?? downloadSlice(c, job, from, Math.min(inputBytes, stop + slack), slicePath)
        started = undefined
        await download
      }
      const outcome = await aggregatePart(
        inPlace === undefined
          ? { path: slicePath, fileOffset: from, inputBytes }
          : { path: inPlace, fileOffset: 0, inputBytes },
        partPath,
        {
          ...engineOptions(job),
          header,
          start,
          stop,
          exactStart,
          threads: c.threads,
          memoryMb: c.memoryMb,
          tempDir: c.work,
          signal: c.signal,
          onProgress: c.onProgress,
        },
      )
      if (outcome.kind === 'part') return outcome.summary
    }
  } finally {
    await rm(slicePath, { force: true })
  }
}

interface SliceFile {
  path: string
}

/** Downloads the input's bytes `[from, to)` to `path`. */
async function downloadSlice(
  c: PartsContext,
  job: Job,
  from: number,
  to: number,
  path: string,
  signal = c.signal,
): Promise<SliceFile> {
  await pipeline(
    await c.storage.get(job.input.key, { start: from, end: to - 1 }),
    createWriteStream(path),
    { signal },
  )
  return { path }
}

/** Aggregates one part of a split job and stores it. */
export async function runPart(c: PartsContext, job: Job, ref: PartRef): Promise<void> {
  const header = await readInputHeader(c.storage, job)
  const bounds = sliceBounds(header, job.input.bytes, ref.count)
  const path = join(c.work, 'part')
  const index = ref.index
  await aggregateSlice(c, job, header, bounds, index, bounds[index]!, index === 0, path)
  const key = partKey(job.id, ref)
  if (c.storage.supportsLocalPath) {
    // A local store takes the file as it is (a rename is atomic), unless it sits elsewhere.
    try {
      await rename(path, await c.storage.localPath(key, { forWrite: true }))
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error
    }
  }
  await c.storage.put(key, createReadStream(path), { signal: c.signal })
}

/**
 * Merges the stored parts of a split job into `outputPath` (and `rejectsPath`). Parts that do
 * not chain up are aggregated again here.
 */
export async function mergeStoredParts(
  c: PartsContext,
  job: Job,
  ref: Omit<PartRef, 'index'>,
  outputPath: string,
  rejectsPath: string | undefined,
): Promise<AggregateSummary> {
  const header = await readInputHeader(c.storage, job)
  const paths: string[] = []
  for (let index = 0; index < ref.count; index++) {
    const key = partKey(job.id, { runId: ref.runId, index })
    // A local store's parts are read in place.
    if (c.storage.supportsLocalPath) {
      paths.push(await c.storage.localPath(key))
      continue
    }
    const path = join(c.work, `part-${index}`)
    await pipeline(await c.storage.get(key), createWriteStream(path), { signal: c.signal })
    paths.push(path)
  }
  return mergeLocalParts(c, job, header, ref.count, paths, outputPath, rejectsPath)
}

/** Aggregates the input slice after slice, then merges: for workers whose storage is remote. */
export async function aggregateInSlices(
  c: PartsContext,
  job: Job,
  count: number,
  outputPath: string,
  rejectsPath: string | undefined,
): Promise<AggregateSummary> {
  const header = await readInputHeader(c.storage, job)
  const bounds = sliceBounds(header, job.input.bytes, count)
  const paths: string[] = []
  // The next slice downloads while this one is aggregated; stopped if this one fails.
  const prefetch = new AbortController()
  const signal = AbortSignal.any([c.signal, prefetch.signal])
  const download = (index: number) => {
    const from = index === 0 ? bounds[0]! : bounds[index]! - 1
    const to = Math.min(job.input.bytes, bounds[index + 1]! + SLICE_SLACK_BYTES)
    const started = downloadSlice(c, job, from, to, join(c.work, `slice-${index}`), signal)
    started.catch(() => {}) // Awaited (and its error met) by its own slice, or dropped with the run.
    return started
  }
  let next = download(0)
  let done = 0
  try {
    for (let index = 0; index < count; index++) {
      const started = next
      if (index + 1 < count) next = download(index + 1)
      const path = join(c.work, `part-${index}`)
      const sliceContext = {
        ...c,
        onProgress: (p: AggregateProgress) =>
          c.onProgress({ ...p, bytesDone: done + p.bytesDone, bytesTotal: job.input.bytes }),
      }
      const start = bounds[index]!
      await aggregateSlice(
        sliceContext,
        job,
        header,
        bounds,
        index,
        start,
        index === 0,
        path,
        started,
      )
      done += bounds[index + 1]! - bounds[index]!
      paths.push(path)
    }
  } finally {
    prefetch.abort()
  }
  return mergeLocalParts(c, job, header, count, paths, outputPath, rejectsPath)
}

async function mergeLocalParts(
  c: PartsContext,
  job: Job,
  header: CsvHeader,
  count: number,
  paths: string[],
  outputPath: string,
  rejectsPath: string | undefined,
): Promise<AggregateSummary> {
  const bounds = sliceBounds(header, job.input.bytes, count)
  const summaries = paths.map(readPartSummary)
  // Redoing a slice is part of merging: its own progress would make the job's go back.
  const redo = { ...c, onProgress: () => {} }
  for (;;) {
    const broken = partChainBreak(header, summaries)
    if (broken === -1) break
    const start = expectedStart(header, summaries, broken)
    // Written in the work directory: the broken part may be a local store's blob, read in place.
    const path = join(c.work, `redone-${broken}`)
    summaries[broken] = await aggregateSlice(redo, job, header, bounds, broken, start, true, path)
    paths[broken] = path
  }
  return mergeParts(paths, outputPath, {
    ...engineOptions(job),
    header,
    inputBytes: job.input.bytes,
    rejects: rejectsPath,
    threads: c.threads,
    memoryMb: c.memoryMb,
    tempDir: c.work,
    signal: c.signal,
    onProgress: c.onProgress,
  })
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

export async function makeWorkDir(path: string): Promise<string> {
  await rm(path, { recursive: true, force: true })
  await mkdir(path, { recursive: true })
  return path
}
