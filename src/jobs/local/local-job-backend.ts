/**
 * The embedded JobBackend: jobs in a SQLite file (WAL), run in this process by `RunLoop`.
 *
 * One process owns the database: `init()` takes SQLite's exclusive lock, so a second tally on
 * the same data directory fails at once with a clear message instead of running jobs twice.
 * (To scale out, use Redis and `tally worker`s.) Because the owner is the only writer, `init()`
 * can treat every job still `running` as left over by a dead process and queue it again.
 *
 * Files: a job's input is deleted as soon as the job is final; its result and rejects are
 * deleted by the retention sweep (`sweepExpired`), which marks the job expired. A crash can
 * leave an upload behind (killed between storing it and queueing its job, or between a job's
 * end and the deletion of its input): `sweepUploads` removes those, at start and with each
 * retention sweep.
 */

import { EventEmitter } from 'node:events'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import type { Storage } from '../../storage/storage.js'
import {
  ALL_JOBS,
  type JobBackend,
  type JobEvent,
  type JobListener,
  type JobPage,
  type JobRunner,
  type ListJobsQuery,
  type Logger,
  type StopOptions,
  type SubmitJob,
  silentLogger,
} from '../backend.js'
import {
  createJobId,
  isFinished,
  isJobId,
  type Job,
  type JobStatus,
  resolveJobOptions,
} from '../job.js'
import { JobError } from '../job-error.js'
import { JobTable } from './job-table.js'
import { RunLoop } from './run-loop.js'

/** Uploads are stored under this prefix, named by their job's id (`uploads/<job id>`). */
const UPLOADS_PREFIX = 'uploads/'
/**
 * An upload without a job is an orphan once it is this old: storing an upload and queueing its
 * job are milliseconds apart, so anything older was cut by a crash in between (or belongs to
 * no job at all). The margin keeps a store shared with another process safe.
 */
const ORPHAN_UPLOAD_GRACE_MS = 10 * 60 * 1000

export interface LocalJobBackendOptions {
  /** SQLite file, e.g. `<data dir>/jobs.sqlite`; its directory is created. Or `database`. */
  path?: string
  /** A ready connection instead of `path` (tests, tools). The backend closes it. */
  database?: Database
  storage: Storage
  /** Jobs run at once. */
  concurrency: number
  /** Queued jobs accepted before `submit` throws `QUEUE_FULL`. */
  queueLimit: number
  /** Seconds a finished job's files are kept. */
  resultTtlSeconds: number
  /** Default 3. */
  maxAttempts?: number
  /** Default 1000 (then 2000, 4000, ...). */
  retryBaseMs?: number
  /** Default 250. */
  progressIntervalMs?: number
  /** How often the retention sweep runs while started. Default 60 000. */
  sweepIntervalMs?: number
  /** Age past which an upload without a job is removed. Default 10 minutes. */
  orphanUploadGraceMs?: number
  logger?: Logger
}

export class LocalJobBackend implements JobBackend {
  private db: Database | undefined
  private table: JobTable | undefined
  private loop: RunLoop | undefined
  private sweepTimer: NodeJS.Timeout | undefined
  private readonly events = new EventEmitter()
  private readonly logger: Logger

  constructor(private readonly options: LocalJobBackendOptions) {
    if (!options.path && !options.database)
      throw new TypeError('LocalJobBackend needs a path or a database')
    this.logger = options.logger ?? silentLogger
    // Every SSE client is a listener; there is no sensible maximum.
    this.events.setMaxListeners(0)
  }

  async init(): Promise<void> {
    const { path } = this.options
    if (!this.options.database && path) mkdirSync(dirname(path), { recursive: true })
    const db = this.options.database ?? new BetterSqlite3(path!, { timeout: 1000 })
    try {
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      db.pragma('locking_mode = EXCLUSIVE')
      // The lock is taken by the first write; take it now so a second process fails here.
      db.exec('BEGIN EXCLUSIVE; COMMIT')
    } catch (error) {
      db.close()
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        throw new Error(
          `the job database ${path ?? ''} is in use by another tally process; use one data directory per process (or Redis to scale out)`,
          { cause: error },
        )
      }
      throw error
    }
    this.db = db
    this.table = new JobTable(db)
    this.table.migrate()
    this.loop = new RunLoop(
      this.table,
      this.options.storage,
      (type, job) => this.emit(type, job),
      this.logger,
      {
        concurrency: this.options.concurrency,
        maxAttempts: this.options.maxAttempts ?? 3,
        retryBaseMs: this.options.retryBaseMs ?? 1000,
        progressIntervalMs: this.options.progressIntervalMs ?? 250,
      },
    )
    this.recover()
  }

  async close(): Promise<void> {
    if (!this.db) return
    await this.stop({ drain: false })
    this.events.removeAllListeners()
    this.db.close()
    this.db = undefined
    this.table = undefined
    this.loop = undefined
  }

  async submit(submission: SubmitJob): Promise<Job> {
    const table = this.open()
    const id = submission.id ?? createJobId()
    if (!isJobId(id))
      throw new TypeError(`job ids are made by createJobId(); got ${JSON.stringify(id)}`)
    const options = resolveJobOptions(submission.options)
    const job: Job = {
      id,
      owner: submission.owner ?? null,
      status: 'queued',
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      expiredAt: null,
      attempts: 0,
      input: { ...submission.input },
      options,
      progress: null,
      result: null,
      error: null,
    }
    table.atomically(() => {
      if (table.countQueued() >= this.options.queueLimit) {
        throw new JobError(
          'QUEUE_FULL',
          `${this.options.queueLimit} jobs are waiting already; try again later`,
        )
      }
      table.insert(job)
    })
    this.emit('status', job)
    this.loop!.pump()
    return job
  }

  async get(id: string): Promise<Job | undefined> {
    return this.open().get(id)
  }

  async list(query: ListJobsQuery = {}): Promise<JobPage> {
    return this.open().list(query)
  }

  async cancel(id: string): Promise<Job> {
    const table = this.open()
    const job = this.found(id)
    if (job.status === 'canceled') return job
    if (isFinished(job.status)) {
      throw new JobError(
        'JOB_ALREADY_FINISHED',
        `job ${id} already ${job.status}; it cannot be canceled`,
      )
    }
    // Record the reason before aborting, so the runner's ABORTED error is read as a cancel.
    if (job.status === 'running') this.loop!.abort(id, 'cancel')
    const canceled = table.transition(id, job.status, 'canceled', {
      finishedAt: new Date().toISOString(),
    })
    if (!canceled) return this.cancel(id) // It moved on meanwhile; decide again from its new status.
    this.emit('status', canceled)
    if (job.status === 'queued') await this.deleteQuietly(id, job.input.key)
    return canceled
  }

  async delete(id: string): Promise<void> {
    const job = this.found(id)
    if (!isFinished(job.status)) {
      throw new JobError('JOB_NOT_FINISHED', `job ${id} is ${job.status}; cancel it first`)
    }
    // Files first: if storage fails, the job stays and the delete can be retried.
    for (const key of fileKeys(job)) await this.options.storage.delete(key)
    this.open().remove(id)
  }

  subscribe(jobId: string, listener: JobListener): () => void {
    this.events.on(jobId, listener)
    return () => {
      this.events.off(jobId, listener)
    }
  }

  async counts(): Promise<Record<JobStatus, number>> {
    return this.open().counts()
  }

  async start(runner: JobRunner): Promise<void> {
    this.open()
    this.loop!.start(runner)
    const interval = this.options.sweepIntervalMs ?? 60_000
    clearInterval(this.sweepTimer)
    const sweepUploads = () =>
      this.sweepUploads().catch((error: unknown) => {
        this.logger.warn({ err: error }, 'could not look for uploads left over by a crash')
      })
    this.sweepTimer = setInterval(() => {
      this.sweepExpired().catch((error: unknown) => {
        this.logger.error({ err: error }, 'retention sweep failed')
      })
      void sweepUploads()
    }, interval)
    this.sweepTimer.unref()
    void sweepUploads()
  }

  async stop(options?: StopOptions): Promise<void> {
    clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
    await this.loop?.stop(options)
  }

  /**
   * Deletes the files of jobs finished more than the retention period before `now` and marks
   * them expired. A job whose files cannot be deleted is left for the next sweep. Returns how
   * many jobs expired.
   */
  async sweepExpired(now: Date = new Date()): Promise<number> {
    const table = this.open()
    const before = new Date(now.getTime() - this.options.resultTtlSeconds * 1000).toISOString()
    let expired = 0
    for (const job of table.expirable(before)) {
      try {
        for (const key of fileKeys(job)) await this.options.storage.delete(key)
      } catch (error) {
        this.logger.warn({ err: error, jobId: job.id }, 'could not delete an expired job’s files')
        continue
      }
      if (table.markExpired(job.id, now.toISOString())) expired++
    }
    if (expired > 0) this.logger.info({ expired }, 'expired finished jobs’ files')
    return expired
  }

  /**
   * Deletes uploads no job needs: those of finished jobs (a crash came between the job's end and
   * the deletion of its input) and those without a job older than the orphan grace period (a
   * crash came between storing the upload and queueing its job; the client had no 202).
   * Returns how many were deleted.
   */
  async sweepUploads(now: Date = new Date()): Promise<number> {
    const table = this.open()
    const { storage } = this.options
    const graceMs = this.options.orphanUploadGraceMs ?? ORPHAN_UPLOAD_GRACE_MS
    let removed = 0
    for await (const key of storage.list(UPLOADS_PREFIX)) {
      const id = key.slice(UPLOADS_PREFIX.length)
      if (!isJobId(id)) continue
      const job = table.get(id)
      if (job && (job.input.key !== key || !isFinished(job.status))) continue
      if (!job) {
        const stat = await storage.stat(key).catch(() => undefined)
        if (!stat || now.getTime() - stat.modifiedAt.getTime() < graceMs) continue
        // Queued meanwhile (the grace period makes this a formality): not an orphan.
        if (table.get(id)) continue
      }
      await this.deleteQuietly(id, key)
      removed++
    }
    if (removed > 0) this.logger.info({ removed }, 'removed uploads left over by a crash')
    return removed
  }

  /** Jobs left running by a dead process run again, unless they used up their attempts. */
  private recover(): void {
    const table = this.table!
    const maxAttempts = this.options.maxAttempts ?? 3
    const now = new Date().toISOString()
    table.atomically(() => {
      for (const job of table.running()) {
        if (job.attempts >= maxAttempts) {
          table.transition(job.id, 'running', 'failed', {
            finishedAt: now,
            error: {
              code: 'INTERNAL',
              message: `the job was interrupted ${job.attempts} times and will not be tried again`,
              line: null,
              column: null,
            },
          })
          this.logger.error({ jobId: job.id, attempts: job.attempts }, 'job interrupted too often')
        } else {
          table.transition(job.id, 'running', 'queued', {
            startedAt: null,
            progress: null,
            runAfterMs: 0,
          })
          this.logger.info(
            { jobId: job.id, attempts: job.attempts },
            'job requeued after a restart',
          )
        }
      }
    })
  }

  private emit(type: JobEvent['type'], job: Job): void {
    const event: JobEvent = { type, job }
    for (const name of [job.id, ALL_JOBS]) {
      for (const listener of this.events.listeners(name) as JobListener[]) {
        try {
          listener(event)
        } catch (error) {
          this.logger.error({ err: error, jobId: job.id }, 'a job event listener threw')
        }
      }
    }
  }

  private found(id: string): Job {
    const job = this.open().get(id)
    if (!job) throw new JobError('JOB_NOT_FOUND', `no job ${id}`)
    return job
  }

  private open(): JobTable {
    if (!this.table) throw new Error('LocalJobBackend is not initialised: call init() first')
    return this.table
  }

  private async deleteQuietly(jobId: string, key: string): Promise<void> {
    try {
      await this.options.storage.delete(key)
    } catch (error) {
      this.logger.warn({ err: error, jobId, key }, 'could not delete a job file')
    }
  }
}

function fileKeys(job: Job): string[] {
  const keys = [job.input.key]
  if (job.result) keys.push(job.result.outputKey)
  if (job.result?.rejectsKey) keys.push(job.result.rejectsKey)
  return keys
}
