/**
 * The JobBackend port: how the producer (HTTP submits), the runner (consumes) and the observer
 * (SSE progress) reach the job system, whatever holds the jobs. Adapters: `local/` (embedded,
 * SQLite) and, later, `bullmq/` (Redis). Both pass `test/contracts/job-backend.ts`.
 *
 * Error contract:
 * - `JobError` `JOB_NOT_FOUND` (cancel, delete of an unknown id), `JOB_ALREADY_FINISHED` (cancel
 *   of a succeeded or failed job), `JOB_NOT_FINISHED` (delete of a queued or running job),
 *   `JOB_ID_TAKEN`, `QUEUE_FULL` (submit), `INVALID_CURSOR` (list).
 * - The engine's `EngineError` `INVALID_OPTION_*` from submit: options the engine would refuse.
 * - `StorageError` when deleting a job's files fails (delete); the job is then left as it was.
 * Ownership is the caller's check: `get` returns the job whatever its owner, `list` filters.
 */
import type { AggregateProgress } from '../engine/index.js'
import type { Job, JobInput, JobOptions, JobResult, JobStatus } from './job.js'
import type { PartRef } from './job-parts.js'

export interface SubmitJob {
  /** An id made with `createJobId()` when the upload had to be named first; default: a new one. */
  id?: string
  owner?: string | null
  /** The upload, already stored. */
  input: JobInput
  /** Missing options take the defaults (`first_seen`, `skip`, `Song,Date`, `Number of Plays`). */
  options?: Partial<JobOptions>
}

export interface ListJobsQuery {
  /** Only this owner's jobs. Absent: every job (a service without API keys). */
  owner?: string
  status?: JobStatus | readonly JobStatus[]
  /** Page size, 1 to 100; default 20. Out-of-range values are clamped. */
  limit?: number
  /** `nextCursor` of the previous page. Opaque. */
  cursor?: string
}

export interface JobPage {
  /** Newest first. */
  jobs: Job[]
  /** Null on the last page. */
  nextCursor: string | null
}

/**
 * `status` on every status change (also at submit); `progress` while running, a few times a
 * second at most. The job is the state after the change. A final status is the last event.
 */
export interface JobEvent {
  type: 'status' | 'progress'
  job: Job
}

export type JobListener = (event: JobEvent) => void

/** Subscribe to this to hear every job's events (metrics). */
export const ALL_JOBS = '*'

export interface RunContext {
  /** Aborted when the job is canceled or the backend stops without draining. */
  signal: AbortSignal
  onProgress(progress: AggregateProgress): void
}

/**
 * Runs one job: storage -> engine -> storage. Resolves with the result once the output is
 * stored. Throws `JobFailure` for a permanent failure (no retry); anything else is transient.
 */
export interface JobRunner {
  run(job: Job, context: RunContext): Promise<JobResult>
}

/** A runner that can also run a job as parts on several workers, then merge them. */
export interface SplitJobRunner extends JobRunner {
  /** How many parts to split a job into (1: do not split), given the workers that can take them. */
  planParts(job: Job, countWorkers: () => Promise<number>): Promise<number>
  /** Aggregates one part and stores it. */
  runPart(job: Job, part: PartRef, context: RunContext): Promise<void>
  /** Merges the stored parts of a run into the job's result, and deletes them. */
  mergeParts(job: Job, parts: Omit<PartRef, 'index'>, context: RunContext): Promise<JobResult>
  /** Deletes the stored parts of every run of a job. */
  deleteParts(job: Job): Promise<void>
}

export function isSplitJobRunner(runner: JobRunner): runner is SplitJobRunner {
  return 'planParts' in runner
}

export interface StopOptions {
  /** `true` (default): let running jobs finish; `false`: abort them now. Either way they are requeued if they do not finish. */
  drain?: boolean
  /** With `drain`, how long to wait before aborting and requeueing what is left. Default: no limit. */
  graceMs?: number
}

export interface JobBackend {
  /** Opens the store and recovers jobs a dead process left running (they are queued again). */
  init(): Promise<void>
  /** Stops the run loop without draining, then releases everything. */
  close(): Promise<void>

  /** Queues a job. Resolves with it in status `queued`. */
  submit(job: SubmitJob): Promise<Job>
  /** The job, or undefined when there is no such job. */
  get(id: string): Promise<Job | undefined>
  list(query?: ListJobsQuery): Promise<JobPage>
  /**
   * Cancels a queued job, or a running one (its signal aborts; its threads are free within a
   * second). Idempotent for a canceled job. Resolves with the job in status `canceled`.
   */
  cancel(id: string): Promise<Job>
  /** Deletes a finished job's files and its record. */
  delete(id: string): Promise<void>
  /** Events of one job (or `ALL_JOBS`). Returns the unsubscribe function. */
  subscribe(jobId: string, listener: JobListener): () => void
  /** Jobs per status, for metrics and readiness. */
  counts(): Promise<Record<JobStatus, number>>
  /**
   * Deletes the files of jobs finished more than the retention period before `now` and marks
   * them expired (also done periodically while started). Resolves with how many.
   */
  sweepExpired(now?: Date): Promise<number>

  /** Starts taking queued jobs, oldest first, and running them with `runner`. */
  start(runner: JobRunner): Promise<void>
  stop(options?: StopOptions): Promise<void>
}

/** The logging the job system needs; a pino logger fits. */
export interface Logger {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} }
