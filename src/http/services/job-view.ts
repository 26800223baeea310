/** Job (camelCase model) -> the job view (snake_case HTTP shape). The only place that maps. */
import type { Job } from '../../jobs/job.js'
import type { JobView } from '../schemas/job-view.js'

export function jobPath(jobId: string): string {
  return `/jobs/${jobId}`
}

/** Path of a result in the earlier clients' form: its last part works with `/results/{file_name}`. */
export function outputFilePath(jobId: string): string {
  return `/results/${jobId}.csv`
}

export function toJobView(job: Job): JobView {
  const self = jobPath(job.id)
  const downloadable = job.status === 'succeeded' && job.expiredAt === null
  return {
    job_id: job.id,
    status: job.status,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
    expired_at: job.expiredAt,
    file_name: job.input.fileName,
    file_bytes: job.input.bytes,
    options: {
      order: job.options.order,
      on_error: job.options.onError,
      group_by: [...job.options.groupBy],
      sum: job.options.sum,
      escape_formulas: job.options.escapeFormulas === true,
    },
    progress: progressView(job),
    result: job.result && {
      rows_read: job.result.rowsRead,
      rows_rejected: job.result.rowsRejected,
      groups: job.result.groups,
      output_bytes: job.result.outputBytes,
      rejects_bytes: job.result.rejectsBytes,
      duration_ms: job.result.durationMs,
    },
    error: job.error && {
      code: job.error.code,
      message: job.error.message,
      line: job.error.line,
      column: job.error.column,
    },
    links: {
      self,
      events: `${self}/events`,
      result: downloadable ? `${self}/result` : null,
      rejects: downloadable ? `${self}/rejects` : null,
    },
  }
}

/** Always an object, so clients need no null check: a queued job is at 0 of its bytes. */
function progressView(job: Job): JobView['progress'] {
  const p = job.progress
  if (p) {
    return {
      bytes_done: p.bytesDone,
      bytes_total: p.bytesTotal,
      rows: p.rows,
      rejected: p.rejected,
      percent: p.percent,
      eta_seconds: p.etaSeconds,
      phase: p.phase,
    }
  }
  const succeeded = job.status === 'succeeded'
  return {
    bytes_done: succeeded ? job.input.bytes : 0,
    bytes_total: job.input.bytes,
    rows: job.result?.rowsRead ?? 0,
    rejected: job.result?.rowsRejected ?? 0,
    percent: succeeded ? 100 : 0,
    eta_seconds: succeeded ? 0 : null,
    phase: job.status === 'queued' ? 'queued' : succeeded ? 'done' : job.status,
  }
}
