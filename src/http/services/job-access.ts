/**
 * Finding a job for a client, and its downloadable files: the checks every route set (primary
 * and compat) makes the same way. A job of another API key is answered exactly like a job that
 * does not exist, so ids cannot be probed.
 */
import type { JobBackend } from '../../jobs/backend.js'
import { isJobId, type Job } from '../../jobs/job.js'
import { HttpError } from '../errors/api-errors.js'
import { downloadName } from './download-name.js'
import { toJobView } from './job-view.js'

export type JobFileKind = 'result' | 'rejects'

export interface JobFile {
  /** Storage key; null for the rejects of a job that wrote none (`on_error=fail`). */
  key: string | null
  /** Download name, derived from the upload's name. */
  fileName: string
  /** Strong validator: the files of a job never change once written. */
  etag: string
  lastModified: Date
}

export async function findJob(jobs: JobBackend, id: string, owner: string | null): Promise<Job> {
  const job = isJobId(id) ? await jobs.get(id) : undefined
  if (!job || (owner !== null && job.owner !== owner)) {
    throw new HttpError('JOB_NOT_FOUND', `no job ${JSON.stringify(id)}`)
  }
  return job
}

/**
 * The result or rejects of a job, or why not: 409 while not finished (with the job view), 409
 * for a failed or canceled job, 410 once the retention period removed the files.
 */
export function jobFile(job: Job, kind: JobFileKind): JobFile {
  const extra = { job: toJobView(job) }
  if (job.status === 'queued' || job.status === 'running') {
    throw new HttpError(
      'JOB_NOT_FINISHED',
      `job ${job.id} is ${job.status}; its ${kind} is ready once it succeeds`,
      { extra },
    )
  }
  if (job.status === 'failed') {
    const reason = job.error ? `: ${job.error.message}` : ''
    throw new HttpError('JOB_FAILED', `job ${job.id} failed${reason}`, { extra })
  }
  if (job.status === 'canceled') {
    throw new HttpError('JOB_CANCELED', `job ${job.id} was canceled`, { extra })
  }
  if (job.expiredAt !== null || job.result === null) throw expired(job)
  const key = kind === 'result' ? job.result.outputKey : job.result.rejectsKey
  const bytes = kind === 'result' ? job.result.outputBytes : job.result.rejectsBytes
  return {
    key,
    fileName: downloadName(job.input.fileName, kind === 'result' ? 'totals' : 'rejects'),
    etag: `"${job.id}-${kind}-${bytes}"`,
    lastModified: new Date(job.finishedAt ?? job.createdAt),
  }
}

export function expired(job: Job): HttpError {
  return new HttpError(
    'RESULT_EXPIRED',
    `the files of job ${job.id} were deleted after the retention period${job.expiredAt ? ` (at ${job.expiredAt})` : ''}; submit the file again`,
  )
}
