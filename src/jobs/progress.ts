import type { AggregateProgress } from '../engine/index.js'
import type { Job, JobProgress, JobResult } from './job.js'

/**
 * Engine progress -> the job's progress view. Percent follows input bytes, but stays below 100
 * until the engine reports `done`: merging and writing the output still take time after the last
 * byte is read. The ETA extrapolates the rate so far and is only given once there is a rate to
 * extrapolate (1% read and half a second spent).
 */
export function toJobProgress(
  progress: AggregateProgress,
  startedAtMs: number,
  nowMs: number,
): JobProgress {
  const total = progress.bytesTotal ?? null
  const done = progress.phase === 'done'
  let fraction: number | null = null
  if (done) fraction = 1
  else if (total !== null) fraction = total === 0 ? 1 : Math.min(1, progress.bytesDone / total)
  const elapsedSeconds = (nowMs - startedAtMs) / 1000
  let etaSeconds: number | null = null
  if (done) etaSeconds = 0
  else if (fraction !== null && fraction >= 0.01 && fraction < 1 && elapsedSeconds >= 0.5) {
    etaSeconds = Math.ceil((elapsedSeconds * (1 - fraction)) / fraction)
  }
  return {
    bytesDone: progress.bytesDone,
    bytesTotal: total,
    rows: progress.rows,
    rejected: progress.rejected,
    groups: progress.groups,
    percent: fraction === null ? null : done ? 100 : Math.min(99, Math.floor(fraction * 1000) / 10),
    etaSeconds,
    phase: progress.phase,
  }
}

/** The progress a job shows once it succeeded: all of its input read. */
export function finalProgress(job: Job, result: JobResult): JobProgress {
  return {
    bytesDone: job.input.bytes,
    bytesTotal: job.input.bytes,
    rows: result.rowsRead,
    rejected: result.rowsRejected,
    groups: result.groups,
    percent: 100,
    etaSeconds: 0,
    phase: 'done',
  }
}
