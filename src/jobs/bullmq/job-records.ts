/**
 * Job records in Redis: the `Job` model of `../job.ts`, kept beside the BullMQ queue so that any
 * process (the API, every worker) can get, list and count jobs. BullMQ's own job only carries
 * the id and drives the run; the record is the truth about a job.
 *
 * Layout, under `<base>` = `<prefix>:<queue>:tally:`:
 *
 *     <base>job:<id>                      hash: one field per Job field (JSON for input,
 *                                         options, progress, result, error; absent = null),
 *                                         plus `seq`, `ownerHex` and `runId` (internal)
 *     <base>seq                           counter: the next sequence number (creation order)
 *     <base>all                           sorted set of ids by seq: every job
 *     <base>owner:<hex>                   the same for one owner (hex, so any owner string is safe)
 *     <base>status:<status>               the same for one status (counts, list filters)
 *     <base>owner:<hex>:status:<status>   one owner's jobs in one status
 *     <base>finished                      finished jobs by finish time (epoch ms), until expired
 *
 * A list page is a merge of the highest sequence numbers below the cursor across the index sets
 * that answer the query: the cost is the page size, whatever the filters. Every write is one Lua
 * script (`job-scripts.ts`); reads are plain commands.
 */
import type { Redis } from 'ioredis'
import type { JobPage, ListJobsQuery } from '../backend.js'
import {
  FINISHED_STATUSES,
  JOB_STATUSES,
  type Job,
  type JobErrorInfo,
  type JobProgress,
  type JobResult,
  type JobStatus,
} from '../job.js'
import { JobError } from '../job-error.js'
import {
  claimScript,
  expireScript,
  listScript,
  progressScript,
  removeScript,
  submitScript,
  transitionScript,
} from './job-scripts.js'
import type { RedisScript } from './redis-script.js'

/** How far one part of a split job is. */
export interface PartCounters {
  bytesDone: number
  rows: number
  rejected: number
  groups: number
}

/** Fields a status change may set along with the status; null removes the field. */
export interface RecordPatch {
  startedAt?: string | null
  finishedAt?: string | null
  progress?: JobProgress | null
  result?: JobResult | null
  error?: JobErrorInfo | null
}

export interface TransitionRequest {
  from: readonly JobStatus[]
  to: JobStatus
  /** Only if this run still holds the job (a stalled run that lost it changes nothing). */
  runId?: string
  attemptsDelta?: number
  patch?: RecordPatch
}

/** What a status change did: the record after it, or why nothing changed. */
export type TransitionOutcome =
  | { kind: 'ok'; job: Job; previous: JobStatus }
  | { kind: 'missing' }
  | { kind: 'status'; status: JobStatus }
  | { kind: 'superseded'; status: JobStatus }

const DEFAULT_PAGE = 20
const MAX_PAGE = 100
/** BullMQ's default length of the events stream (`streams.events.maxLen`). */
const MAX_EVENTS = 10_000
const JSON_FIELDS = ['input', 'options', 'progress', 'result', 'error'] as const

export class JobRecords {
  private readonly base: string

  /**
   * @param origin the id of the backend writing, carried by its events so it can skip them
   * @param eventsKey BullMQ's events stream of the queue (`queue.keys.events`)
   */
  constructor(
    private readonly client: Redis,
    keyBase: string,
    private readonly eventsKey: string,
    private readonly origin: string,
  ) {
    this.base = keyBase
  }

  jobKey(id: string): string {
    return `${this.base}job:${id}`
  }

  async insert(job: Job, queueLimit: number): Promise<Job> {
    const ownerHex = job.owner === null ? '' : Buffer.from(job.owner).toString('hex')
    const reply = await this.write(submitScript, job.id, [queueLimit, ownerHex, ...toFields(job)])
    if (reply[0] === 'taken') throw new JobError('JOB_ID_TAKEN', `a job with id ${job.id} exists`)
    if (reply[0] === 'full') {
      throw new JobError('QUEUE_FULL', `${queueLimit} jobs are waiting already; try again later`)
    }
    return fromReply(reply[1])
  }

  async get(id: string): Promise<Job | undefined> {
    const fields = await this.client.hgetall(this.jobKey(id))
    return fields.status === undefined ? undefined : toJob(fields)
  }

  async runIdOf(id: string): Promise<{ status: JobStatus; runId: string } | undefined> {
    const [status, runId] = await this.client.hmget(this.jobKey(id), 'status', 'runId')
    return status ? { status: status as JobStatus, runId: runId ?? '' } : undefined
  }

  async list(query: ListJobsQuery): Promise<JobPage> {
    const limit = Math.min(MAX_PAGE, Math.max(1, Math.trunc(query.limit ?? DEFAULT_PAGE) || 1))
    const scope =
      query.owner === undefined ? '' : `owner:${Buffer.from(query.owner).toString('hex')}`
    let keys: string[]
    if (query.status === undefined) keys = [`${this.base}${scope || 'all'}`]
    else {
      const statuses = new Set(typeof query.status === 'string' ? [query.status] : query.status)
      keys = [...statuses].map((s) => `${this.base}${scope ? `${scope}:` : ''}status:${s}`)
    }
    const upper = query.cursor === undefined ? '+inf' : `(${decodeCursor(query.cursor)}`
    if (keys.length === 0) return { jobs: [], nextCursor: null }
    const rows = (await listScript.run(this.client, keys, [
      `${this.base}job:`,
      upper,
      limit + 1,
    ])) as string[][]
    const records = rows.filter((row) => row.length > 0).map(pairsToRecord)
    const more = records.length > limit
    const page = more ? records.slice(0, limit) : records
    return {
      jobs: page.map(toJob),
      nextCursor: more ? encodeCursor(Number(page[page.length - 1]!.seq)) : null,
    }
  }

  async counts(): Promise<Record<JobStatus, number>> {
    const pipeline = this.client.pipeline()
    for (const status of JOB_STATUSES) pipeline.zcard(`${this.base}status:${status}`)
    const replies = (await pipeline.exec()) ?? []
    const counts = {} as Record<JobStatus, number>
    JOB_STATUSES.forEach((status, i) => {
      const [error, n] = replies[i] ?? [new Error('no reply')]
      if (error) throw error
      counts[status] = Number(n)
    })
    return counts
  }

  async claim(id: string, runId: string, startedAt: string): Promise<TransitionOutcome> {
    return outcome(await this.write(claimScript, id, [runId, startedAt]))
  }

  async transition(id: string, request: TransitionRequest): Promise<TransitionOutcome> {
    const final = FINISHED_STATUSES.includes(request.to)
    const finishedAt = request.patch?.finishedAt
    const args = [
      request.from.join(','),
      request.to,
      request.runId ?? '',
      request.attemptsDelta ?? 0,
      final && finishedAt ? Date.parse(finishedAt) : '',
      ...patchFields(request.patch ?? {}),
    ]
    return outcome(await this.write(transitionScript, id, args))
  }

  /** Records the progress of the run holding the job; undefined when it no longer does. */
  async progress(id: string, runId: string, progress: JobProgress): Promise<Job | undefined> {
    const reply = await this.write(progressScript, id, [runId, JSON.stringify(progress)])
    return reply[0] === 'ok' ? fromReply(reply[1]) : undefined
  }

  /**
   * Stores the progress of part `index` of a split job and answers every part's so far. Kept a
   * day at most: the parts' progress only matters while they run.
   */
  async addPartProgress(
    id: string,
    index: number,
    counters: PartCounters,
  ): Promise<PartCounters[]> {
    const key = `${this.base}parts:${id}`
    const replies = await this.client
      .multi()
      .hset(key, String(index), JSON.stringify(counters))
      .pexpire(key, 24 * 3600 * 1000)
      .hvals(key)
      .exec()
    const [error, values] = replies?.[2] ?? [new Error('no reply')]
    if (error) throw error
    return (values as string[]).map((v) => JSON.parse(v) as PartCounters)
  }

  /** Deletes a finished job's record. */
  async remove(id: string): Promise<TransitionOutcome['kind']> {
    return (await this.write(removeScript, id, []))[0] as TransitionOutcome['kind']
  }

  /** Finished jobs not yet expired that finished at or before `beforeMs`, oldest first. */
  async expirable(beforeMs: number, limit = 500): Promise<Job[]> {
    const ids = await this.client.zrangebyscore(
      `${this.base}finished`,
      '-inf',
      beforeMs,
      'LIMIT',
      0,
      limit,
    )
    const jobs = await Promise.all(ids.map((id) => this.get(id)))
    return jobs.filter((job): job is Job => job !== undefined)
  }

  async markExpired(id: string, expiredAt: string): Promise<boolean> {
    return (await this.write(expireScript, id, [expiredAt]))[0] === 'ok'
  }

  /** Ids of jobs in `status`, oldest first (reconciliation with BullMQ). */
  async idsIn(status: JobStatus, limit: number): Promise<string[]> {
    return this.client.zrange(`${this.base}status:${status}`, '0', String(limit - 1))
  }

  private async write(
    script: RedisScript,
    id: string,
    args: readonly (string | number)[],
  ): Promise<unknown[]> {
    const common = [this.base, MAX_EVENTS, this.origin, id]
    return (await script.run(
      this.client,
      [this.jobKey(id), this.eventsKey],
      [...common, ...args],
    )) as unknown[]
  }
}

/** A `tally.job` entry of the events stream -> the job it carries. */
export function jobFromEvent(entry: Record<string, string>): Job | undefined {
  const fields: Record<string, string> = {}
  for (const [name, value] of Object.entries(entry)) {
    if (name.startsWith('j.')) fields[name.slice(2)] = value
  }
  return fields.status === undefined ? undefined : toJob(fields)
}

function outcome(reply: unknown[]): TransitionOutcome {
  switch (reply[0]) {
    case 'ok':
      return { kind: 'ok', job: fromReply(reply[1]), previous: reply[2] as JobStatus }
    case 'missing':
      return { kind: 'missing' }
    case 'superseded':
      return { kind: 'superseded', status: reply[1] as JobStatus }
    default:
      return { kind: 'status', status: reply[1] as JobStatus }
  }
}

function fromReply(pairs: unknown): Job {
  return toJob(pairsToRecord(pairs as string[]))
}

function pairsToRecord(pairs: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {}
  for (let i = 0; i + 1 < pairs.length; i += 2) record[pairs[i]!] = pairs[i + 1]!
  return record
}

/** The record's fields for a new job: field, value, field, value... (nulls left out). */
function toFields(job: Job): string[] {
  const fields: [string, string | number | null][] = [
    ['id', job.id],
    ['owner', job.owner],
    ['status', job.status],
    ['createdAt', job.createdAt],
    ['startedAt', job.startedAt],
    ['finishedAt', job.finishedAt],
    ['expiredAt', job.expiredAt],
    ['attempts', job.attempts],
  ]
  for (const name of JSON_FIELDS) {
    fields.push([name, job[name] === null ? null : JSON.stringify(job[name])])
  }
  return fields.flatMap(([name, value]) => (value === null ? [] : [name, String(value)]))
}

function patchFields(patch: RecordPatch): string[] {
  return Object.entries(patch).flatMap(([name, value]) => {
    if (value === undefined) return []
    if (value === null) return [name, '']
    return [name, typeof value === 'string' ? value : JSON.stringify(value)]
  })
}

function toJob(fields: Record<string, string>): Job {
  const json = <T>(name: string): T | null =>
    fields[name] === undefined ? null : (JSON.parse(fields[name]!) as T)
  return {
    id: fields.id!,
    owner: fields.owner ?? null,
    status: fields.status as JobStatus,
    createdAt: fields.createdAt!,
    startedAt: fields.startedAt ?? null,
    finishedAt: fields.finishedAt ?? null,
    expiredAt: fields.expiredAt ?? null,
    attempts: Number(fields.attempts ?? 0),
    input: json<Job['input']>('input')!,
    options: json<Job['options']>('options')!,
    progress: json<JobProgress>('progress'),
    result: json<JobResult>('result'),
    error: json<JobErrorInfo>('error'),
  }
}

function encodeCursor(seq: number): string {
  return Buffer.from(`seq:${seq}`).toString('base64url')
}

function decodeCursor(cursor: string): number {
  const match = /^seq:([0-9]{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'))
  if (!match) throw new JobError('INVALID_CURSOR', 'the cursor is not one this service gave out')
  return Number(match[1])
}
