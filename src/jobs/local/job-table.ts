/**
 * The `jobs` table of the embedded backend (SQLite through better-sqlite3, synchronous).
 *
 * One row per job. `seq` (autoincrement) orders jobs: FIFO for claiming, newest first for
 * listing, and it is what a list cursor holds. Nested parts of the model (`input`, `options`,
 * `progress`, `result`, `error`) are JSON text columns: they are read and written whole, never
 * queried inside. `run_after_ms` (epoch ms) holds a retried job back until its backoff ends.
 *
 * Every status change is one conditional `UPDATE ... WHERE status = <expected>`, checked
 * against the transition table first, so a change that lost a race (a cancel against a finish)
 * changes nothing and returns undefined instead of overwriting.
 */
import type { Database, Statement } from 'better-sqlite3'
import type { JobPage, ListJobsQuery } from '../backend.js'
import {
  assertTransition,
  FINISHED_STATUSES,
  type Job,
  type JobErrorInfo,
  type JobProgress,
  type JobResult,
  type JobStatus,
} from '../job.js'
import { JobError } from '../job-error.js'

const SCHEMA_VERSION = 1

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  owner        TEXT,
  status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  created_at   TEXT NOT NULL,
  started_at   TEXT,
  finished_at  TEXT,
  expired_at   TEXT,
  run_after_ms INTEGER NOT NULL DEFAULT 0,
  attempts     INTEGER NOT NULL DEFAULT 0,
  input        TEXT NOT NULL,
  options      TEXT NOT NULL,
  progress     TEXT,
  result       TEXT,
  error        TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, seq);
CREATE INDEX IF NOT EXISTS jobs_to_expire ON jobs (finished_at) WHERE expired_at IS NULL;
`

interface JobRow {
  seq: number
  id: string
  owner: string | null
  status: JobStatus
  created_at: string
  started_at: string | null
  finished_at: string | null
  expired_at: string | null
  attempts: number
  input: string
  options: string
  progress: string | null
  result: string | null
  error: string | null
}

/** Fields a status change may set along with the status. */
export interface JobPatch {
  startedAt?: string | null
  finishedAt?: string | null
  attempts?: number
  runAfterMs?: number
  progress?: JobProgress | null
  result?: JobResult | null
  error?: JobErrorInfo | null
}

const PATCH_COLUMNS: Record<keyof JobPatch, string> = {
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  attempts: 'attempts',
  runAfterMs: 'run_after_ms',
  progress: 'progress',
  result: 'result',
  error: 'error',
}
const JSON_FIELDS = new Set<keyof JobPatch>(['progress', 'result', 'error'])

const DEFAULT_PAGE = 20
const MAX_PAGE = 100
const FINISHED_SQL = FINISHED_STATUSES.map((s) => `'${s}'`).join(', ')

export class JobTable {
  private readonly statements = new Map<string, Statement>()

  constructor(private readonly db: Database) {}

  /** Creates or upgrades the schema. Refuses a database written by a newer version. */
  migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the job database has schema version ${version}; this version of tally knows up to ${SCHEMA_VERSION}`,
      )
    }
    this.db.exec(SCHEMA)
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }

  insert(job: Job): void {
    try {
      this.sql(
        `INSERT INTO jobs (id, owner, status, created_at, attempts, input, options)
         VALUES (@id, @owner, @status, @createdAt, @attempts, @input, @options)`,
      ).run({
        id: job.id,
        owner: job.owner,
        status: job.status,
        createdAt: job.createdAt,
        attempts: job.attempts,
        input: JSON.stringify(job.input),
        options: JSON.stringify(job.options),
      })
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new JobError('JOB_ID_TAKEN', `a job with id ${job.id} exists`, { cause: error })
      }
      throw error
    }
  }

  get(id: string): Job | undefined {
    const row = this.sql('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined
    return row && toJob(row)
  }

  list(query: ListJobsQuery): JobPage {
    const limit = Math.min(MAX_PAGE, Math.max(1, Math.trunc(query.limit ?? DEFAULT_PAGE) || 1))
    const where: string[] = []
    const params: Record<string, unknown> = { limit: limit + 1 }
    if (query.owner !== undefined) {
      where.push('owner = @owner')
      params.owner = query.owner
    }
    if (query.status !== undefined) {
      const statuses = typeof query.status === 'string' ? [query.status] : [...query.status]
      where.push(`status IN (${statuses.map((_, i) => `@s${i}`).join(', ') || 'NULL'})`)
      statuses.forEach((status, i) => {
        params[`s${i}`] = status
      })
    }
    if (query.cursor !== undefined) {
      where.push('seq < @before')
      params.before = decodeCursor(query.cursor)
    }
    const rows = this.sql(
      `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY seq DESC LIMIT @limit`,
    ).all(params) as JobRow[]
    const more = rows.length > limit
    const page = more ? rows.slice(0, limit) : rows
    return {
      jobs: page.map(toJob),
      nextCursor: more ? encodeCursor(page[page.length - 1]!.seq) : null,
    }
  }

  counts(): Record<JobStatus, number> {
    const counts: Record<JobStatus, number> = {
      queued: 0,
      running: 0,
      succeeded: 0,
      failed: 0,
      canceled: 0,
    }
    const rows = this.sql('SELECT status, count(*) AS n FROM jobs GROUP BY status').all() as {
      status: JobStatus
      n: number
    }[]
    for (const { status, n } of rows) counts[status] = n
    return counts
  }

  countQueued(): number {
    return (
      this.sql(`SELECT count(*) AS n FROM jobs WHERE status = 'queued'`).get() as { n: number }
    ).n
  }

  /** Atomically takes the oldest due queued job: status running, one more attempt. */
  claimNext(nowMs: number): Job | undefined {
    const row = this.sql(
      `UPDATE jobs SET status = 'running', started_at = @now, attempts = attempts + 1,
         progress = NULL, error = NULL
       WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' AND run_after_ms <= @nowMs
                    ORDER BY seq LIMIT 1)
       RETURNING *`,
    ).get({ now: new Date(nowMs).toISOString(), nowMs }) as JobRow | undefined
    return row && toJob(row)
  }

  /** When the earliest queued job becomes due (epoch ms), or undefined when none is queued. */
  nextDueMs(): number | undefined {
    const row = this.sql(
      `SELECT min(run_after_ms) AS due FROM jobs WHERE status = 'queued'`,
    ).get() as {
      due: number | null
    }
    return row.due ?? undefined
  }

  /** Status change with its fields, only if the job is still in `from`. */
  transition(id: string, from: JobStatus, to: JobStatus, patch: JobPatch = {}): Job | undefined {
    assertTransition(from, to, id)
    const sets = ['status = @to']
    const params: Record<string, unknown> = { id, from, to }
    for (const [field, value] of Object.entries(patch) as [keyof JobPatch, unknown][]) {
      if (value === undefined) continue
      sets.push(`${PATCH_COLUMNS[field]} = @${field}`)
      params[field] = JSON_FIELDS.has(field) && value !== null ? JSON.stringify(value) : value
    }
    const row = this.sql(
      `UPDATE jobs SET ${sets.join(', ')} WHERE id = @id AND status = @from RETURNING *`,
    ).get(params) as JobRow | undefined
    return row && toJob(row)
  }

  /** Records progress while the job is still running. */
  setProgress(id: string, progress: JobProgress): Job | undefined {
    const row = this.sql(
      `UPDATE jobs SET progress = @progress WHERE id = @id AND status = 'running' RETURNING *`,
    ).get({ id, progress: JSON.stringify(progress) }) as JobRow | undefined
    return row && toJob(row)
  }

  running(): Job[] {
    return (
      this.sql(`SELECT * FROM jobs WHERE status = 'running' ORDER BY seq`).all() as JobRow[]
    ).map(toJob)
  }

  /** Finished jobs whose files are still there and that finished at or before `beforeIso`. */
  expirable(beforeIso: string, limit = 500): Job[] {
    const rows = this.sql(
      `SELECT * FROM jobs WHERE expired_at IS NULL AND finished_at <= @before
         AND status IN (${FINISHED_SQL}) ORDER BY finished_at LIMIT @limit`,
    ).all({ before: beforeIso, limit }) as JobRow[]
    return rows.map(toJob)
  }

  markExpired(id: string, atIso: string): Job | undefined {
    const row = this.sql(
      'UPDATE jobs SET expired_at = @at WHERE id = @id AND expired_at IS NULL RETURNING *',
    ).get({ id, at: atIso }) as JobRow | undefined
    return row && toJob(row)
  }

  remove(id: string): void {
    this.sql('DELETE FROM jobs WHERE id = ?').run(id)
  }

  /** Runs `fn` in one transaction (all or nothing). */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }

  /** Prepared statements are cached by their text: the dynamic ones have few shapes. */
  private sql(text: string): Statement {
    let statement = this.statements.get(text)
    if (!statement) {
      statement = this.db.prepare(text)
      this.statements.set(text, statement)
    }
    return statement
  }
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    owner: row.owner,
    status: row.status,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    expiredAt: row.expired_at,
    attempts: row.attempts,
    input: JSON.parse(row.input),
    options: JSON.parse(row.options),
    progress: row.progress === null ? null : JSON.parse(row.progress),
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error === null ? null : JSON.parse(row.error),
  }
}

/** The cursor is the last listed job's `seq`, wrapped so clients treat it as opaque. */
function encodeCursor(seq: number): string {
  return Buffer.from(`seq:${seq}`).toString('base64url')
}

function decodeCursor(cursor: string): number {
  const match = /^seq:([0-9]{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'))
  if (!match) throw new JobError('INVALID_CURSOR', 'the cursor is not one this service gave out')
  return Number(match[1])
}
