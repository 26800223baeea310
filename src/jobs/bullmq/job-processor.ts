/**
 * The run role of the BullMQ backend: the processor a BullMQ `Worker` calls for each job it
 * takes. It claims the job record, runs the runner, and records how the run ended; the error it
 * throws (or not) tells BullMQ what to do next (G7):
 *
 * - success, or a run stopped by a cancel: return (BullMQ completes the job);
 * - `JobFailure` (the file's fault): record `failed`, throw `UnrecoverableError` (no retry);
 * - any other error with attempts left: record `queued`, rethrow (BullMQ retries with backoff);
 *   on the last attempt: record `failed` with `INTERNAL`, rethrow;
 * - stopped by a shutdown: record `queued` without counting the attempt, move the job back to
 *   wait and throw `WaitingError`, so another worker takes it at once.
 *
 * Each run gets a run id, stored in the record by the claim. Writes about a run name it, so a run
 * that lost its job (BullMQ found it stalled and handed it to another worker) changes nothing:
 * the job finishes once. Cancels reach a run from another process through the events feed
 * (`abortIfCanceled`) and, as a fallback, a poll of the record (`checkActive`).
 */
import { randomUUID } from 'node:crypto'
import { type Job as BullJob, UnrecoverableError, WaitingError } from 'bullmq'
import type { Storage } from '../../storage/storage.js'
import type { JobEvent, JobRunner, Logger, RunContext } from '../backend.js'
import type { Job, JobErrorInfo, JobResult } from '../job.js'
import { isJobFailure } from '../job-failure.js'
import { deleteJobFiles } from '../job-files.js'
import { finalProgress, toJobProgress } from '../progress.js'
import type { JobRecords } from './job-records.js'

/** What BullMQ carries for a job: only the id; the record holds the rest. */
export interface QueuedJobData {
  id: string
}

type AbortReason = 'cancel' | 'shutdown' | 'superseded'

interface ActiveRun {
  runId: string
  controller: AbortController
  reason: AbortReason | undefined
}

export interface JobProcessorOptions {
  records: JobRecords
  storage: Storage
  runner: JobRunner
  logger: Logger
  progressIntervalMs: number
  emit: (type: JobEvent['type'], job: Job) => void
}

export class JobProcessor {
  private readonly active = new Map<string, ActiveRun>()

  constructor(private readonly options: JobProcessorOptions) {}

  /** The BullMQ processor function. */
  readonly process = async (bullJob: BullJob<QueuedJobData>, token?: string): Promise<void> => {
    const { records, logger, emit } = this.options
    const id = bullJob.data.id
    const runId = randomUUID()
    const claimed = await records.claim(id, runId, new Date().toISOString())
    if (claimed.kind !== 'ok') {
      // Canceled before it started, deleted, or already finished by an earlier run.
      logger.info({ jobId: id, record: claimed }, 'queued job has nothing left to run')
      return
    }
    const job = claimed.job
    const run: ActiveRun = { runId, controller: new AbortController(), reason: undefined }
    this.active.set(id, run)
    emit('status', job)
    let result: JobResult
    try {
      result = await this.options.runner.run(job, this.context(bullJob, job, run))
    } catch (error) {
      this.active.delete(id)
      return this.failed(bullJob, token, job, run, error)
    }
    this.active.delete(id)
    await this.succeeded(job, run, result)
  }

  get activeIds(): string[] {
    return [...this.active.keys()]
  }

  /** Aborts a run of this process. False when the job does not run here. */
  abort(id: string, reason: AbortReason): boolean {
    const run = this.active.get(id)
    if (!run) return false
    run.reason ??= reason
    run.controller.abort(new Error(`job ${reason}`))
    return true
  }

  abortAll(reason: AbortReason): void {
    for (const id of this.active.keys()) this.abort(id, reason)
  }

  /** A change made elsewhere: a job canceled by another process stops here. */
  abortIfCanceled(job: Job): void {
    if (job.status === 'canceled') this.abort(job.id, 'cancel')
  }

  /** Fallback for missed events: stops runs whose record no longer belongs to them. */
  async checkActive(): Promise<void> {
    for (const [id, run] of [...this.active]) {
      const current = await this.options.records.runIdOf(id)
      if (current?.status === 'canceled') this.abort(id, 'cancel')
      else if (current?.status !== 'running' || current.runId !== run.runId) {
        this.abort(id, 'superseded')
      }
    }
  }

  private context(bullJob: BullJob<QueuedJobData>, job: Job, run: ActiveRun): RunContext {
    const { records, logger, emit, progressIntervalMs } = this.options
    const startedAtMs = Date.parse(job.startedAt ?? new Date().toISOString())
    let lastMs = 0
    return {
      signal: run.controller.signal,
      onProgress: (progress) => {
        const now = Date.now()
        if (!this.active.has(job.id) || now - lastMs < progressIntervalMs) return
        lastMs = now
        const view = toJobProgress(progress, startedAtMs, now)
        // Sent at once, in order on the connection: a read that follows sees it.
        records.progress(job.id, run.runId, view).then(
          (updated) => {
            if (updated) emit('progress', updated)
          },
          (error: unknown) =>
            logger.warn({ err: error, jobId: job.id }, 'could not store progress'),
        )
        // BullMQ's own copy, for tools that watch the queue (dashboards).
        bullJob.updateProgress({ ...view }).catch(() => {})
      },
    }
  }

  private async succeeded(job: Job, run: ActiveRun, result: JobResult): Promise<void> {
    const { records, emit, logger } = this.options
    const finished = await records.transition(job.id, {
      from: ['running'],
      to: 'succeeded',
      runId: run.runId,
      patch: {
        finishedAt: new Date().toISOString(),
        result,
        progress: finalProgress(job, result),
      },
    })
    if (finished.kind === 'ok') {
      emit('status', finished.job)
      await deleteJobFiles(this.options.storage, this.options.logger, job.id, [job.input.key])
    } else if (finished.kind === 'status' && finished.status === 'canceled') {
      // Canceled while its last bytes were written: the result must not outlive the cancel.
      await deleteJobFiles(this.options.storage, this.options.logger, job.id, [
        result.outputKey,
        result.rejectsKey,
        job.input.key,
      ])
    } else {
      // Another run holds the job now and writes the same files: leave them.
      logger.warn({ jobId: job.id, record: finished }, 'a finished run no longer held its job')
    }
  }

  private async failed(
    bullJob: BullJob<QueuedJobData>,
    token: string | undefined,
    job: Job,
    run: ActiveRun,
    error: unknown,
  ): Promise<void> {
    const { logger } = this.options
    if (run.reason === 'cancel') {
      await deleteJobFiles(this.options.storage, this.options.logger, job.id, [job.input.key])
      return
    }
    if (run.reason === 'superseded') {
      logger.warn({ jobId: job.id }, 'stopped a run whose job another worker holds now')
      return
    }
    if (run.reason === 'shutdown') {
      await this.requeue(job, run, -1)
      // Back to wait without counting a failed attempt, for any worker to take at once.
      if (token) {
        await bullJob.moveToWait(token).catch((e: unknown) => {
          logger.warn({ err: e, jobId: job.id }, 'could not hand the job back; it will stall')
        })
      }
      throw new WaitingError()
    }
    if (isJobFailure(error)) {
      await this.finishFailed(job, run, error.info)
      await deleteJobFiles(this.options.storage, this.options.logger, job.id, [job.input.key])
      throw new UnrecoverableError(error.info.message)
    }
    const failure = error instanceof Error ? error : new Error(String(error))
    const attempts = bullJob.opts.attempts ?? 1
    if (bullJob.attemptsMade + 1 < attempts) {
      logger.warn(
        { err: failure, jobId: job.id, attempt: job.attempts },
        'job failed with a transient error; retrying',
      )
      await this.requeue(job, run, 0)
      throw failure
    }
    logger.error(
      { err: failure, jobId: job.id, attempts: job.attempts },
      'job failed with an internal error after its last attempt',
    )
    await this.finishFailed(job, run, {
      code: 'INTERNAL',
      message: `the job failed because of an internal error (${job.attempts} attempts); it has been logged`,
      line: null,
      column: null,
    })
    await deleteJobFiles(this.options.storage, this.options.logger, job.id, [job.input.key])
    throw failure
  }

  private async requeue(job: Job, run: ActiveRun, attemptsDelta: number): Promise<void> {
    const requeued = await this.options.records.transition(job.id, {
      from: ['running'],
      to: 'queued',
      runId: run.runId,
      attemptsDelta,
      patch: { startedAt: null, progress: null },
    })
    if (requeued.kind === 'ok') this.options.emit('status', requeued.job)
  }

  private async finishFailed(job: Job, run: ActiveRun, info: JobErrorInfo): Promise<void> {
    const failed = await this.options.records.transition(job.id, {
      from: ['running'],
      to: 'failed',
      runId: run.runId,
      patch: { finishedAt: new Date().toISOString(), error: info },
    })
    if (failed.kind === 'ok') this.options.emit('status', failed.job)
  }
}
