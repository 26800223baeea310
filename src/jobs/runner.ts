/**
 * The job runner: storage -> engine -> storage.
 *
 * With a local store (the `localPath` capability) the engine reads the upload in place and writes
 * the result and rejects straight to their final paths (it writes a `.partial` file and renames,
 * so readers never see half a file). With a remote store the upload is downloaded to a work
 * directory first and the outputs are uploaded from there.
 *
 * Errors decide retries (G7): the engine's `EngineError`s are the file's fault and become a
 * permanent `JobFailure` with the code, message, line and column; a missing upload is permanent
 * too (`JOB_INPUT_MISSING`); anything else (disk, storage, a bug) is thrown as is and the
 * backend retries it with backoff.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { aggregate, isEngineError } from '../engine/index.js'
import type { Storage } from '../storage/storage.js'
import { isStorageError } from '../storage/storage-error.js'
import type { JobRunner, RunContext } from './backend.js'
import { isJobId, type Job, type JobResult } from './job.js'
import { JobFailure } from './job-failure.js'

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
}

export function resultKey(jobId: string): string {
  return `results/${jobId}.csv`
}

export function rejectsKey(jobId: string): string {
  return `rejects/${jobId}.csv`
}

export class EngineJobRunner implements JobRunner {
  constructor(private readonly options: EngineJobRunnerOptions) {}

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

  async run(job: Job, { signal, onProgress }: RunContext): Promise<JobResult> {
    const startedMs = performance.now()
    const { storage, threads, memoryMb } = this.options
    const local = storage.supportsLocalPath
    const outputKey = resultKey(job.id)
    const rejectsKeyOrNull = job.options.onError === 'skip' ? rejectsKey(job.id) : null
    // One directory per job; a previous attempt's leftovers go first.
    const work = join(this.options.tempDir, job.id)
    await rm(work, { recursive: true, force: true })
    await mkdir(work, { recursive: true })
    try {
      const inputPath = await this.inputPath(job, work, signal)
      const outputPath = local
        ? await storage.localPath(outputKey, { forWrite: true })
        : join(work, 'result.csv')
      const rejectsPath =
        rejectsKeyOrNull === null
          ? undefined
          : local
            ? await storage.localPath(rejectsKeyOrNull, { forWrite: true })
            : join(work, 'rejects.csv')
      const summary = await aggregate(inputPath, outputPath, {
        order: job.options.order,
        onError: job.options.onError,
        groupBy: job.options.groupBy,
        sum: job.options.sum,
        rejects: rejectsPath,
        threads,
        memoryMb,
        maxInputBytes: this.options.maxInputBytes,
        tempDir: work,
        signal,
        onProgress,
      })
      if (!local) {
        await storage.put(outputKey, createReadStream(outputPath), { signal })
        if (rejectsKeyOrNull && rejectsPath) {
          await storage.put(rejectsKeyOrNull, createReadStream(rejectsPath), { signal })
        }
      }
      return {
        rowsRead: summary.rowsRead,
        rowsRejected: summary.rowsRejected,
        groups: summary.groups,
        outputBytes: summary.outputBytes,
        rejectsBytes: summary.rejectsBytes,
        durationMs: Math.round(performance.now() - startedMs),
        outputKey,
        rejectsKey: rejectsKeyOrNull,
      }
    } catch (error) {
      if (isEngineError(error) && error.code !== 'ABORTED' && !signal.aborted) {
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
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }

  private async inputPath(job: Job, work: string, signal: AbortSignal): Promise<string> {
    const { storage } = this.options
    try {
      if (storage.supportsLocalPath) return await storage.localPath(job.input.key)
      const path = join(work, 'input')
      await pipeline(await storage.get(job.input.key), createWriteStream(path), { signal })
      return path
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
