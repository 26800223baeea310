/**
 * The Job model and its status machine, shared by every JobBackend adapter and the runner.
 *
 *     queued ──> running ──> succeeded
 *       │          │  └────> failed
 *       │          ├───────> canceled
 *       │          └───────> queued   (a transient failure retried, or requeued at shutdown or
 *       └──────────────────> canceled  after a crash)
 *
 * `succeeded`, `failed` and `canceled` are final. A finished job whose files were removed after
 * the retention period keeps its status and gets `expiredAt`: its result then answers 410.
 * Timestamps are ISO 8601 strings in UTC (what the HTTP view shows, and they sort as text).
 */
import { randomBytes } from 'node:crypto'
import {
  type AggregateProgress,
  createSpec,
  DEFAULT_GROUP_BY,
  DEFAULT_SUM,
} from '../engine/index.js'
import { JobError } from './job-error.js'

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

export const FINISHED_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled']

export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = Object.freeze({
  queued: ['running', 'canceled'],
  running: ['succeeded', 'failed', 'canceled', 'queued'],
  succeeded: [],
  failed: [],
  canceled: [],
})

export type JobOrder = 'first_seen' | 'sorted'
export type JobOnError = 'skip' | 'fail'

export interface JobInput {
  /** Storage key of the uploaded CSV. */
  key: string
  /** The name the client gave the file; the result's download name derives from it. */
  fileName: string
  bytes: number
}

export interface JobOptions {
  order: JobOrder
  onError: JobOnError
  groupBy: readonly string[]
  sum: string
  /**
   * Formulas in text values are written as text (the `escape_formulas` option). Absent means
   * false: only `true` is stored, so jobs stored before the option existed read the same.
   */
  escapeFormulas?: boolean
}

export interface JobProgress {
  bytesDone: number
  /** Unknown only for inputs whose size is not known ahead (none today). */
  bytesTotal: number | null
  rows: number
  rejected: number
  groups: number
  /** 0..100, one decimal; null while the total is unknown. */
  percent: number | null
  /** Estimated seconds left, from the rate so far; null until it can be estimated. */
  etaSeconds: number | null
  /** The engine's phase (reading, merging, writing, done, ...). */
  phase: AggregateProgress['phase']
}

export interface JobResult {
  rowsRead: number
  rowsRejected: number
  groups: number
  outputBytes: number
  rejectsBytes: number
  durationMs: number
  outputKey: string
  /** Null when no rejects file was written (`onError: 'fail'`). */
  rejectsKey: string | null
}

export interface JobErrorInfo {
  /** An engine code (`CSV_BAD_DATE`, ...), `JOB_INPUT_MISSING`, or `INTERNAL`. */
  code: string
  message: string
  line: number | null
  column: string | null
}

export interface Job {
  id: string
  /** API key id of the submitter; null when the service runs without keys. */
  owner: string | null
  status: JobStatus
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  expiredAt: string | null
  /** Runs started, including the current one. */
  attempts: number
  input: JobInput
  options: JobOptions
  progress: JobProgress | null
  result: JobResult | null
  error: JobErrorInfo | null
}

export function isFinished(status: JobStatus): boolean {
  return FINISHED_STATUSES.includes(status)
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to)
}

/** Throws `JOB_INVALID_TRANSITION` unless the table allows `from -> to`. */
export function assertTransition(from: JobStatus, to: JobStatus, jobId = 'job'): void {
  if (!canTransition(from, to)) {
    throw new JobError(
      'JOB_INVALID_TRANSITION',
      `${jobId} cannot go from ${from} to ${to}; from ${from} it can go to ${TRANSITIONS[from].join(', ') || 'nothing (final)'}`,
    )
  }
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'
const JOB_ID = /^job_[a-z2-7]{24}$/

/** `job_` + 120 random bits in lower-case base32 (24 characters): URL- and key-safe. */
export function createJobId(): string {
  const bytes = randomBytes(15)
  let bits = 0
  let value = 0
  let id = 'job_'
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      id += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  return id
}

/** For the HTTP layer: a malformed id is a 404 without a lookup. */
export function isJobId(value: string): boolean {
  return JOB_ID.test(value)
}

/**
 * Fills in defaults and validates with the engine's own rules, so a job is never queued with
 * options the engine would refuse. Throws the engine's `INVALID_OPTION_*` errors.
 */
export function resolveJobOptions(options: Partial<JobOptions> = {}): JobOptions {
  const resolved: JobOptions = {
    order: options.order ?? 'first_seen',
    onError: options.onError ?? 'skip',
    groupBy: [...(options.groupBy ?? DEFAULT_GROUP_BY)],
    sum: options.sum ?? DEFAULT_SUM,
  }
  const spec = createSpec({ ...resolved, escapeFormulas: options.escapeFormulas })
  return {
    ...resolved,
    groupBy: spec.groupBy.map((column) => column.name),
    sum: spec.sum.name,
    ...(spec.escapeFormulas ? { escapeFormulas: true } : {}),
  }
}
