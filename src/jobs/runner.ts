/**
 * The job runner: storage -> engine -> storage.
 *
 * With a local store (the `localPath` capability) the engine reads the upload in place and writes
 * the result and rejects straight to their final paths (it writes a `.partial` file and renames,
 * so readers never see half a file). With a remote store the input is read by byte ranges, one
 * slice at a time (`job-parts.ts`), so a worker's disk never holds the whole file; the outputs
 * are uploaded from the work directory.
 *
 * A job split across workers (the BullMQ backend decides, see `planParts`) runs as parts
 * (`runPart`), each stored as a blob, then one merge (`mergeParts`).
 *
 * Errors decide retries (G7): the engine's `EngineError`s are the file's fault and become a
 * permanent `JobFailure` with the code, message, line and column; a missing upload is permanent
 * too (`JOB_INPUT_MISSING`); anything else (disk, storage, a bug) is thrown as is and the
 * backend retries it with backoff.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { type AggregateSummary, aggregate, isEngineError } from '../engine/index.js'
import type { Storage } from '../storage/storage.js'
import { isStorageError } from '../storage/storage-error.js'
import type { RunContext, SplitJobRunner } from './backend.js'
import { isJobId, type Job, type JobResult } from './job.js'
import { JobFailure } from './job-failure.js'
import {
  aggregateInSlices,
  engineOptions,
  isGzipInput,
  makeWorkDir,
  mergeStoredParts,
  type PartRef,
  type PartsContext,
  partsPrefix,
  readInputHeader,
  runPart,
} from './job-parts.js'

/** Default of `sliceBytes`: 256 MiB. */
export const DEFAULT_SLICE_BYTES = 256 * 1024 * 1024
/** A job is never split into more parts than this. */
const MAX_PARTS = 16

export interface EngineJobRunnerOptions {
  storage: Storage
  /** Worker threads per job. */
  threads: number
  /** Memory budget per job for the groups, in MiB. */
  memoryMb: number
  /** Largest input once decompressed, in bytes; past it the job fails with INPUT_TOO_LARGE. */
  maxInputBytes?: number
  /**
   * Scratch directory for per-job work directories (downloads, engine spill files), e.g.
   * `<data dir>/tmp`. Each job works in `<tempDir>/<job id>/`.
   */
  tempDir: string
  /**
   * Inputs larger than this are split across workers when there are several, and read from a
   * remote store this much at a time. Default 256 MiB.
   */
  sliceBytes?: number
}

export function resultKey(jobId: string): string {
  return `results/${jobId}.csv`
}

export function rejectsKey(jobId: string): string {
  return `rejects/${jobId}.csv`
}

/** Where a run writes its outputs before they are published. */
interface Outputs {
  outputKey: string
  rejectsKey: string | null
  outputPath: string
  rejectsPath: string | undefined
}

export class EngineJobRunner implements SplitJobRunner {
  private readonly sliceBytes: number

  constructor(private readonly options: EngineJobRunnerOptions) {
    this.sliceBytes = options.sliceBytes ?? DEFAULT_SLICE_BYTES
  }

  /**
   * Creates the scratch directory and removes the job work directories a dead process left
   * (only those: the directory may be shared with other files).
   */
  async init(): Promise<void> {
    await mkdir(this.options.tempDir, { recursive: true })
    for (const entry of await readdir(this.options.tempDir)) {
      if (isJobId(entry))
        await rm(join(this.options.tempDir, entry), { recursive: true, force: true })
    }
  }

  async run(job: Job, context: RunContext): Promise<JobResult> {
    const { storage } = this.options
    return this.inWorkDir(job, job.id, async (work) => {
      const outputs = await this.outputs(job, work)
      if (!storage.supportsLocalPath && job.input.bytes > this.sliceBytes) {
        const gzip = await this.input(() => isGzipInput(storage, job))
        if (!gzip) {
          const count = Math.ceil(job.input.bytes / this.sliceBytes)
          const c = this.partsContext(work, context)
          const summary = await this.input(() =>
            aggregateInSlices(c, job, count, outputs.outputPath, outputs.rejectsPath),
          )
          return this.publish(job, outputs, summary, context.signal)
        }
      }
      const inputPath = await this.input(() => this.inputPath(job, work, context.signal))
      const summary = await aggregate(inputPath, outputs.outputPath, {
        ...engineOptions(job),
        rejects: outputs.rejectsPath,
        threads: this.options.threads,
        memoryMb: this.options.memoryMb,
        maxInputBytes: this.options.maxInputBytes,
        tempDir: work,
        signal: context.signal,
        onProgress: context.onProgress,
      })
      return this.publish(job, outputs, summary, context.signal)
    })
  }

  /**
   * How many parts to split a job into, given how many workers can take them (asked only for a
   * large input): 1 (no split) for inputs up to `sliceBytes`, gzip inputs and a single worker.
   * Reads the header, so a file with a bad one fails here (`JobFailure`) rather than in every
   * part.
   */
  async planParts(job: Job, countWorkers: () => Promise<number>): Promise<number> {
    const { storage } = this.options
    if (job.input.bytes <= this.sliceBytes) return 1
    const workers = await countWorkers()
    if (workers < 2) return 1
    return this.asJobFailure(async () => {
      if (await this.input(() => isGzipInput(storage, job))) return 1
      await this.input(() => readInputHeader(storage, job))
      return Math.min(workers, MAX_PARTS)
    })
  }

  /** Aggregates one part of a split job and stores it as a blob. */
  async runPart(job: Job, ref: PartRef, context: RunContext): Promise<void> {
    await this.inWorkDir(job, `${job.id}/part-${ref.index}`, (work) =>
      this.input(() => runPart(this.partsContext(work, context), job, ref)),
    )
  }

  /** Merges the stored parts of a split job into its result, then deletes them. */
  async mergeParts(job: Job, ref: Omit<PartRef, 'index'>, context: RunContext): Promise<JobResult> {
    const result = await this.inWorkDir(job, `${job.id}/merge`, async (work) => {
      const outputs = await this.outputs(job, work)
      // The parts' threads are done: the merge may use as many, as far as this machine has cores.
      const threads = Math.min(this.options.threads * ref.count, availableParallelism())
      const c = { ...this.partsContext(work, context), threads }
      const summary = await this.input(() =>
        mergeStoredParts(c, job, ref, outputs.outputPath, outputs.rejectsPath),
      )
      return this.publish(job, outputs, summary, context.signal)
    })
    await this.deleteParts(job)
    return result
  }

  /** Deletes every stored part of a job (a failed or canceled split leaves them). */
  async deleteParts(job: Job): Promise<void> {
    const { storage } = this.options
    for await (const key of storage.list(partsPrefix(job.id))) await storage.delete(key)
  }

  private partsContext(work: string, context: RunContext): PartsContext {
    return {
      storage: this.options.storage,
      threads: this.options.threads,
      memoryMb: this.options.memoryMb,
      work,
      signal: context.signal,
      onProgress: context.onProgress,
    }
  }

  /** Runs `body` in a fresh work directory under `tempDir`, removed after. */
  private async inWorkDir<T>(job: Job, name: string, body: (work: string) => Promise<T>) {
    const work = await makeWorkDir(join(this.options.tempDir, name))
    try {
      return await this.asJobFailure(() => body(work))
    } finally {
      await rm(work, { recursive: true, force: true })
      if (name !== job.id) await rm(join(this.options.tempDir, job.id)).catch(() => {})
    }
  }

  /** The engine's file errors are the file's fault: permanent failures. */
  private async asJobFailure<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body()
    } catch (error) {
      if (isEngineError(error) && error.code !== 'ABORTED') {
        throw new JobFailure(
          {
            code: error.code,
            message: error.message,
            line: error.line ?? null,
            column: error.column ?? null,
          },
          { cause: error },
        )
      }
      throw error
    }
  }

  private async outputs(job: Job, work: string): Promise<Outputs> {
    const { storage } = this.options
    const local = storage.supportsLocalPath
    const outputKey = resultKey(job.id)
    const rejectsKeyOrNull = job.options.onError === 'skip' ? rejectsKey(job.id) : null
    if (local) {
      for (const key of [outputKey, rejectsKeyOrNull]) {
        if (key) await removeEnginePartials(await storage.localPath(key, { forWrite: true }))
      }
    }
    return {
      outputKey,
      rejectsKey: rejectsKeyOrNull,
      outputPath: local
        ? await storage.localPath(outputKey, { forWrite: true })
        : join(work, 'result.csv'),
      rejectsPath:
        rejectsKeyOrNull === null
          ? undefined
          : local
            ? await storage.localPath(rejectsKeyOrNull, { forWrite: true })
            : join(work, 'rejects.csv'),
    }
  }

  /** Uploads the outputs (remote store) and describes the result. */
  private async publish(
    job: Job,
    outputs: Outputs,
    summary: AggregateSummary,
    signal: AbortSignal,
  ): Promise<JobResult> {
    const { storage } = this.options
    if (!storage.supportsLocalPath) {
      await storage.put(outputs.outputKey, createReadStream(outputs.outputPath), { signal })
      if (outputs.rejectsKey && outputs.rejectsPath) {
        await storage.put(outputs.rejectsKey, createReadStream(outputs.rejectsPath), { signal })
      }
    }
    const startedMs = Date.parse(job.startedAt ?? new Date().toISOString())
    return {
      rowsRead: summary.rowsRead,
      rowsRejected: summary.rowsRejected,
      groups: summary.groups,
      outputBytes: summary.outputBytes,
      rejectsBytes: summary.rejectsBytes,
      durationMs: Math.max(0, Date.now() - startedMs),
      outputKey: outputs.outputKey,
      rejectsKey: outputs.rejectsKey,
    }
  }

  private async inputPath(job: Job, work: string, signal: AbortSignal): Promise<string> {
    const { storage } = this.options
    if (storage.supportsLocalPath) return storage.localPath(job.input.key)
    const path = join(work, 'input')
    await pipeline(await storage.get(job.input.key), createWriteStream(path), { signal })
    return path
  }

  /** A missing upload is permanent: `JOB_INPUT_MISSING`. */
  private async input<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read()
    } catch (error) {
      if (isStorageError(error, 'E_BLOB_NOT_FOUND')) {
        throw new JobFailure(
          {
            code: 'JOB_INPUT_MISSING',
            message: 'the uploaded file is no longer available; upload it again',
            line: null,
            column: null,
          },
          { cause: error },
        )
      }
      throw error
    }
  }
}

/**
 * Removes the half-written outputs (`<path>.tally-<hex>.partial`) an earlier attempt left when
 * its process was killed while writing: only this job's, at once, rather than by age.
 */
async function removeEnginePartials(path: string): Promise<void> {
  const prefix = `${basename(path)}.tally-`
  for (const name of await readdir(dirname(path))) {
    if (name.startsWith(prefix) && name.endsWith('.partial')) {
      await rm(join(dirname(path), name), { force: true })
    }
  }
}
