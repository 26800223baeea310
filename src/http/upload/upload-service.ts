/**
 * From an upload's bytes to a queued job, the same way for every route (primary and compat):
 *
 * 1. `precheck`: refuse before reading anything when the queue is full (503 + Retry-After), the
 *    announced size is over the limit (413) or over the free disk (507);
 * 2. `store`: stream the bytes through the gate (size limit, header inspection) into storage
 *    under `uploads/<job id>`; nothing is buffered;
 * 3. `submit`: queue the job under that id; if that fails, the stored upload is deleted.
 *
 * Option values arrive as text (query or form fields) and are checked by the engine's own rules
 * (`resolveJobOptions`), so a bad value is a 400 naming the allowed values before any byte is
 * stored, whenever the options arrive before the file.
 */
import type { Readable } from 'node:stream'
import type { Config } from '../../config.js'
import { type AggregateSpec, createSpec, parseEscapeFormulas } from '../../engine/index.js'
import type { JobBackend } from '../../jobs/backend.js'
import { type Job, type JobOptions, resolveJobOptions } from '../../jobs/job.js'
import { isJobError } from '../../jobs/job-error.js'
import type { Storage } from '../../storage/storage.js'
import { isStorageError } from '../../storage/storage-error.js'
import { HttpError } from '../errors/api-errors.js'
import { HeaderInspector } from './header-inspector.js'
import { tooLarge, UploadGate } from './upload-gate.js'

/** Free disk an upload must leave for its result, rejects and the engine's spill files. */
const DISK_HEADROOM_BYTES = 64 * 1024 * 1024

/** Option fields as a client writes them (query parameters or form fields). */
export interface OptionFields {
  order?: string
  on_error?: string
  group_by?: string
  sum?: string
  escape_formulas?: string
}

export interface StoredUpload {
  jobId: string
  key: string
  bytes: number
  inspector: HeaderInspector | undefined
}

export interface UploadServiceDeps {
  config: Config
  storage: Storage
  jobs: JobBackend
  freeDiskBytes: (path: string) => Promise<number>
  retryAfterSeconds: number
}

export function uploadKey(jobId: string): string {
  return `uploads/${jobId}`
}

/** Text fields -> validated job options; throws the engine's `INVALID_OPTION_*` errors. */
export function parseOptions(fields: OptionFields): JobOptions {
  const options: Partial<JobOptions> = {}
  if (fields.order !== undefined) options.order = fields.order as JobOptions['order']
  if (fields.on_error !== undefined) options.onError = fields.on_error as JobOptions['onError']
  if (fields.group_by !== undefined) options.groupBy = fields.group_by.split(',')
  if (fields.sum !== undefined) options.sum = fields.sum
  if (fields.escape_formulas !== undefined) {
    options.escapeFormulas = parseEscapeFormulas(fields.escape_formulas)
  }
  return resolveJobOptions(options)
}

export function specOf(options: JobOptions): AggregateSpec {
  return createSpec(options)
}

export class UploadService {
  constructor(private readonly deps: UploadServiceDeps) {}

  get maxUploadBytes(): number {
    return this.deps.config.maxUploadBytes
  }

  /** Checks that cost nothing to the client: before the first byte is read. */
  async precheck(announcedBytes: number | undefined): Promise<void> {
    const { config, jobs } = this.deps
    if (announcedBytes !== undefined && announcedBytes > config.maxUploadBytes) {
      throw tooLarge(config.maxUploadBytes, announcedBytes)
    }
    const counts = await jobs.counts()
    if (counts.queued >= config.queueLimit) throw this.queueFull()
    await this.checkDisk(announcedBytes ?? 0)
  }

  /**
   * Streams `source` into storage as the upload of job `jobId`. With a `spec`, the header is
   * inspected on the way (refusals are `EngineError`s, 422). Rejects with the gate's or the
   * source's error, an AbortError when `signal` aborts, or a storage error.
   */
  async store(
    source: Readable,
    options: { jobId: string; spec?: AggregateSpec; maxBytes?: number; signal?: AbortSignal },
  ): Promise<StoredUpload> {
    const inspector = options.spec ? new HeaderInspector(options.spec) : undefined
    const key = uploadKey(options.jobId)
    const bytes = await this.put(key, source, {
      maxBytes: options.maxBytes ?? this.deps.config.maxUploadBytes,
      inspector,
      signal: options.signal,
    })
    return { jobId: options.jobId, key, bytes, inspector }
  }

  /** Streams bytes through the gate into `key`; the source is left readable for the caller. */
  async put(
    key: string,
    source: Readable,
    options: { maxBytes: number; inspector?: HeaderInspector; signal?: AbortSignal },
  ): Promise<number> {
    const gate = new UploadGate(options.maxBytes, options.inspector)
    // Not `pipeline`: a refused upload must not destroy the request, or the answer is lost.
    // The source failing means the client's bytes stopped coming (an abort, a cut multipart).
    const onSourceError = (error: Error) => gate.destroy(incomplete(error))
    const onSourceClose = () => {
      if (!source.readableEnded) gate.destroy(incomplete())
    }
    source.once('error', onSourceError)
    source.once('close', onSourceClose)
    source.pipe(gate)
    try {
      const { bytes } = await this.deps.storage.put(key, gate, { signal: options.signal })
      return bytes
    } catch (error) {
      throw this.translate(error)
    } finally {
      source.off('error', onSourceError)
      source.off('close', onSourceClose)
      source.unpipe(gate)
      options.inspector?.close()
    }
  }

  /** Queues the job of a stored upload; deletes the upload when the job cannot be queued. */
  async submit(
    stored: StoredUpload,
    details: { fileName: string; options: JobOptions; owner: string | null },
  ): Promise<Job> {
    try {
      stored.inspector?.recheck(specOf(details.options))
      return await this.deps.jobs.submit({
        id: stored.jobId,
        owner: details.owner,
        input: { key: stored.key, fileName: details.fileName, bytes: stored.bytes },
        options: details.options,
      })
    } catch (error) {
      await this.discard(stored.key)
      if (isJobError(error, 'QUEUE_FULL')) throw this.queueFull(error)
      throw error
    }
  }

  /** Deletes a stored upload that will not become a job. Never throws: it is cleanup. */
  async discard(key: string): Promise<void> {
    await this.deps.storage.delete(key).catch(() => {})
  }

  private queueFull(cause?: unknown): HttpError {
    const seconds = this.deps.retryAfterSeconds
    return new HttpError(
      'QUEUE_FULL',
      `${this.deps.config.queueLimit} jobs are waiting already; try again in ${seconds} seconds`,
      { cause, headers: { 'retry-after': String(seconds) } },
    )
  }

  private async checkDisk(announcedBytes: number): Promise<void> {
    const { storage } = this.deps.config
    if (storage.kind !== 'file') return
    let free: number
    try {
      free = await this.deps.freeDiskBytes(storage.root)
    } catch {
      return // Cannot tell (e.g. the directory is not there yet): the write will say.
    }
    if (announcedBytes + DISK_HEADROOM_BYTES > free) throw insufficientStorage()
  }

  private translate(error: unknown): unknown {
    const cause = (error as { cause?: { code?: string } } | undefined)?.cause
    if (isStorageError(error, 'E_STORAGE') && cause?.code === 'ENOSPC') {
      return insufficientStorage(error)
    }
    return error
  }
}

function insufficientStorage(cause?: unknown): HttpError {
  return new HttpError(
    'INSUFFICIENT_STORAGE',
    'not enough free disk space to store this upload; try again later or with a smaller file',
    { cause, headers: { connection: 'close' } },
  )
}

function incomplete(cause?: unknown): HttpError {
  return new HttpError('BAD_REQUEST', 'the upload ended before all its bytes arrived', {
    cause,
    headers: { connection: 'close' },
  })
}
