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
 *
 * A large job is split when several workers can share it (`SplitJobRunner.planParts`), in
 * BullMQ's step-job way: the run adds one `part` child job per slice, notes that its next step is
 * `merge` and waits for its children (`moveToWaitingChildren`), freeing its worker. Each part, on
 * any worker, aggregates its slice into a stored blob and adds its progress to the job's. Once
 * all are done, BullMQ hands the job back and the merge step writes the result. Parts carry the
 * splitting run's id: a part of a run that lost its job does nothing.
 */
import { randomUUID } from 'node:crypto'
import {
  type Job as BullJob,
  type Queue,
  UnrecoverableError,
  WaitingChildrenError,
  WaitingError,
} from 'bullmq'
import type { AggregateProgress } from '../../engine/index.js'
import type { Storage } from '../../storage/storage.js'
import {
  isSplitJobRunner,
  type JobEvent,
  type JobRunner,
  type Logger,
  type RunContext,
  type SplitJobRunner,
} from '../backend.js'
import type { Job, JobErrorInfo, JobResult } from '../job.js'
import { isJobFailure } from '../job-failure.js'
import { deleteJobFiles } from '../job-files.js'
import { finalProgress, toJobProgress } from '../progress.js'
import type { JobRecords } from './job-records.js'

/**
 * What BullMQ carries for a job: only the id (the record holds the rest); once split, the next
 * step and the splitting run.
 */
export interface QueuedJobData {
  id: string
  step?: 'merge'
  runId?: string
  parts?: number
}

/** A part of a split job: a child job named `part`. */
export interface PartJobData {
  id: string
  runId: string
  index: number
  count: number
}

export const PART_JOB_NAME = 'part'

type AbortReason = 'cancel' | 'shutdown' | 'superseded'

interface ActiveRun {
  jobId: string
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
  /** The queue, to add parts and count the workers; absent: jobs are never split. */
  queue?: Queue
  /** Options of the part jobs: as the job's own. */
  partJobOptions?: { attempts: number; backoff: { type: 'exponential'; delay: number } }
}

export class JobProcessor {
  /** Runs of this process by run key: the job id, or `<job id>#<part>` for a part. */
  private readonly active = new Map<string, ActiveRun>()

  constructor(private readonly options: JobProcessorOptions) {}

  /** The BullMQ processor function. */
  readonly process = async (bullJob: BullJob, token?: string): Promise<void> => {
    if (bullJob.name === PART_JOB_NAME) return this.processPart(bullJob, token)
    if ((bullJob.data as QueuedJobData).step === 'merge') return this.processMerge(bullJob, token)
    const { records, logger, emit } = this.options
    const id = (bullJob.data as QueuedJobData).id
    const runId = randomUUID()
    const claimed = await records.claim(id, runId, new Date().toISOString())
    if (claimed.kind !== 'ok') {
      // Canceled before it started, deleted, or already finished by an earlier run.
      logger.info({ jobId: id, record: claimed }, 'queued job has nothing left to run')
      return
    }
    const job = claimed.job
    const run = this.begin(id, job.id, runId)
    emit('status', job)
    let result: JobResult
    try {
      const runner = this.splitRunner()
      const parts = runner ? await runner.planParts(job, () => this.workerCount()) : 1
      if (runner && parts > 1) {
        this.active.delete(id)
        return await this.split(bullJob, token, job, run, parts)
      }
      result = await this.options.runner.run(job, this.context(bullJob, job, run))
    } catch (error) {
      if (error instanceof WaitingChildrenError) throw error
      this.active.delete(id)
      return this.failed(bullJob, token, job, run, error)
    }
    this.active.delete(id)
    await this.succeeded(job, run, result)
  }

  /** Aborts the runs of a job in this process (whole, merge or parts). False when none runs here. */
  abort(id: string, reason: AbortReason): boolean {
    let found = false
    for (const run of this.active.values()) {
      if (run.jobId !== id) continue
      found = true
      run.reason ??= reason
      run.controller.abort(new Error(`job ${reason}`))
    }
    return found
  }

  abortAll(reason: AbortReason): void {
    for (const run of [...this.active.values()]) this.abort(run.jobId, reason)
  }

  private begin(key: string, jobId: string, runId: string): ActiveRun {
    const run: ActiveRun = { jobId, runId, controller: new AbortController(), reason: undefined }
    this.active.set(key, run)
    return run
  }

  private splitRunner(): SplitJobRunner | undefined {
    const { runner, queue } = this.options
    return queue && isSplitJobRunner(runner) ? runner : undefined
  }

  /** Workers serving the queue now, this one included. */
  private async workerCount(): Promise<number> {
    try {
      return (await this.options.queue?.getWorkersCount()) ?? 1
    } catch (error) {
      // Some Redis services refuse CLIENT LIST: then jobs are not split.
      this.options.logger.warn({ err: error }, 'could not count the workers; not splitting')
      return 1
    }
  }

  /** Adds a part job per slice, then waits for them, freeing this worker. */
  private async split(
    bullJob: BullJob,
    token: string | undefined,
    job: Job,
    run: ActiveRun,
    count: number,
  ): Promise<void> {
    const { queue, partJobOptions, logger } = this.options
    await queue!.addBulk(
      Array.from({ length: count }, (_, index) => ({
        name: PART_JOB_NAME,
        data: { id: job.id, runId: run.runId, index, count } satisfies PartJobData,
        opts: {
          jobId: `${job.id}-${run.runId}-${index}`,
          parent: { id: bullJob.id!, queue: bullJob.queueQualifiedName },
          ...partJobOptions,
          removeOnComplete: true,
          removeOnFail: true,
          // A part that fails for good has failed the job (its record says so already).
          failParentOnFailure: true,
        },
      })),
    )
    await bullJob.updateData({ id: job.id, step: 'merge', runId: run.runId, parts: count })
    logger.info({ jobId: job.id, parts: count }, 'job split into parts')
    if (token && (await bullJob.moveToWaitingChildren(token))) throw new WaitingChildrenError()
    // Every part finished already.
    await this.processMerge(bullJob, token)
  }

  /** One part of a split job. */
  private async processPart(bullJob: BullJob<PartJobData>, token?: string): Promise<void> {
    const { records, logger } = this.options
    const { id, runId, index, count } = bullJob.data
    const job = await this.heldJob(id, runId)
    const runner = this.splitRunner()
    if (!job || !runner) {
      logger.info({ jobId: id, part: index }, 'part of a job no longer split this way; skipped')
      return
    }
    const key = `${id}#${index}`
    const run = this.begin(key, id, runId)
    const startedAtMs = Date.parse(job.startedAt ?? new Date().toISOString())
    let lastMs = 0
    const context: RunContext = {
      signal: run.controller.signal,
      onProgress: (progress: AggregateProgress) => {
        const now = Date.now()
        if (now - lastMs < this.options.progressIntervalMs) return
        lastMs = now
        const counters = {
          bytesDone: progress.bytesDone,
          rows: progress.rows,
          rejected: progress.rejected,
          groups: progress.groups,
        }
        records
          .addPartProgress(id, index, counters)
          .then((parts) => {
            // The job's progress: the sum of its parts'.
            const sum = { ...counters, bytesDone: 0, rows: 0, rejected: 0, groups: 0 }
            for (const part of parts) {
              sum.bytesDone += part.bytesDone
              sum.rows += part.rows
              sum.rejected += part.rejected
              sum.groups += part.groups
            }
            const total = job.input.bytes
            const view = toJobProgress(
              {
                ...sum,
                bytesDone: Math.min(sum.bytesDone, total),
                bytesTotal: total,
                phase: 'reading',
              },
              startedAtMs,
              now,
            )
            return records.progress(id, runId, view)
          })
          .then(
            (updated) => {
              if (updated) this.options.emit('progress', updated)
            },
            (error: unknown) => logger.warn({ err: error, jobId: id }, 'could not store progress'),
          )
      },
    }
    try {
      await runner.runPart(job, { runId, index, count }, context)
    } catch (error) {
      return this.failed(bullJob, token, job, run, error, 'step')
    } finally {
      this.active.delete(key)
    }
  }

  /** The last step of a split job: merge its parts into the result. */
  private async processMerge(bullJob: BullJob<QueuedJobData>, token?: string): Promise<void> {
    const { id, runId = '', parts = 0 } = bullJob.data
    const runner = this.splitRunner()
    const job = await this.heldJob(id, runId)
    if (!job || !runner) {
      const record = await this.options.records.get(id)
      // Canceled (or failed by a part) while split: its parts and input can go.
      if (record && runner) await this.deleteSplitFiles(runner, record)
      return
    }
    const run = this.begin(id, id, runId)
    let result: JobResult
    try {
      result = await runner.mergeParts(
        job,
        { runId, count: parts },
        this.context(bullJob, job, run),
      )
    } catch (error) {
      this.active.delete(id)
      return this.failed(bullJob, token, job, run, error, 'step')
    }
    this.active.delete(id)
    await this.succeeded(job, run, result)
  }

  /** The job, if the run `runId` still holds it. */
  private async heldJob(id: string, runId: string): Promise<Job | undefined> {
    const current = await this.options.records.runIdOf(id)
    if (current?.status !== 'running' || current.runId !== runId) return undefined
    return this.options.records.get(id)
  }

  private async deleteSplitFiles(runner: SplitJobRunner, job: Job): Promise<void> {
    await deleteJobFiles(this.options.storage, this.options.logger, job.id, [job.input.key])
    await runner.deleteParts(job).catch((error: unknown) => {
      this.options.logger.warn({ err: error, jobId: job.id }, 'could not delete the parts')
    })
  }

  /** A change made elsewhere: a job canceled by another process stops here. */
  abortIfCanceled(job: Job): void {
    if (job.status === 'canceled') this.abort(job.id, 'cancel')
  }

  /** Fallback for missed events: stops runs whose record no longer belongs to them. */
  async checkActive(): Promise<void> {
    for (const run of [...this.active.values()]) {
      const current = await this.options.records.runIdOf(run.jobId)
      if (current?.status === 'canceled') this.abort(run.jobId, 'cancel')
      else if (current?.status !== 'running' || current.runId !== run.runId) {
        run.reason ??= 'superseded'
        run.controller.abort(new Error('job superseded'))
      }
    }
  }

  private context(bullJob: BullJob, job: Job, run: ActiveRun): RunContext {
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

  /**
   * A run ended with an error. A whole run gives its job back to the queue while it has attempts
   * left; a step of a split job (a part, the merge) leaves the job `running` while BullMQ retries
   * the step. Only a permanent failure or the last attempt fails the job.
   */
  private async failed(
    bullJob: BullJob,
    token: string | undefined,
    job: Job,
    run: ActiveRun,
    error: unknown,
    kind: 'whole' | 'step' = 'whole',
  ): Promise<void> {
    const { logger } = this.options
    const split = kind === 'step' ? this.splitRunner() : undefined
    const deleteFiles = () =>
      split
        ? this.deleteSplitFiles(split, job)
        : deleteJobFiles(this.options.storage, logger, job.id, [job.input.key])
    if (run.reason === 'cancel') return deleteFiles()
    if (run.reason === 'superseded') {
      logger.warn({ jobId: job.id }, 'stopped a run whose job another worker holds now')
      return
    }
    if (run.reason === 'shutdown') {
      if (!split) await this.requeue(job, run, -1)
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
      await deleteFiles()
      throw new UnrecoverableError(error.info.message)
    }
    const failure = error instanceof Error ? error : new Error(String(error))
    const attempts = bullJob.opts.attempts ?? 1
    if (bullJob.attemptsMade + 1 < attempts) {
      logger.warn(
        { err: failure, jobId: job.id, attempt: bullJob.attemptsMade + 1, kind },
        'job failed with a transient error; retrying',
      )
      if (!split) await this.requeue(job, run, 0)
      throw failure
    }
    logger.error(
      { err: failure, jobId: job.id, attempts: bullJob.attemptsMade + 1, kind },
      'job failed with an internal error after its last attempt',
    )
    await this.finishFailed(job, run, {
      code: 'INTERNAL',
      message: `the job failed because of an internal error (${split ? bullJob.attemptsMade + 1 : job.attempts} attempts); it has been logged`,
      line: null,
      column: null,
    })
    await deleteFiles()
    // A step's parent must not wait forever: a part failing for good fails it (failParentOnFailure).
    throw split ? new UnrecoverableError(failure.message) : failure
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
