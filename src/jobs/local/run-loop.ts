/**
 * The embedded backend's run loop: takes queued jobs oldest first, at most `concurrency` at a
 * time, runs each with the runner, and records how it ended.
 *
 * Scheduling is event driven: the loop "pumps" when it starts, when a job is submitted, when a
 * job ends, and at the moment the earliest backed-off retry becomes due (one timer). Each
 * running job owns an AbortController; `abort(id, reason)` remembers why it aborted so the
 * outcome is recorded right: `cancel` (the job is already `canceled`), `shutdown` (requeued,
 * the attempt not counted).
 */
import type { Storage } from '../../storage/storage.js'
import type { JobEvent, JobRunner, Logger, StopOptions } from '../backend.js'
import type { Job, JobResult } from '../job.js'
import { isJobFailure } from '../job-failure.js'
import { deleteJobFiles } from '../job-files.js'
import { finalProgress, toJobProgress } from '../progress.js'
import type { JobTable } from './job-table.js'

export interface RunLoopOptions {
  concurrency: number
  /** Runs before a transiently failing job fails for good. */
  maxAttempts: number
  /** Backoff before retry n is `retryBaseMs * 2^(n-1)`, at most `MAX_RETRY_DELAY_MS`. */
  retryBaseMs: number
  /** Progress is stored and emitted at most this often per job. */
  progressIntervalMs: number
}

type AbortReason = 'cancel' | 'shutdown'

interface Active {
  controller: AbortController
  reason: AbortReason | undefined
  done: Promise<void>
}

const MAX_RETRY_DELAY_MS = 5 * 60 * 1000
const PUMP_RETRY_MS = 1000

export class RunLoop {
  private runner: JobRunner | undefined
  private readonly active = new Map<string, Active>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly table: JobTable,
    private readonly storage: Storage,
    private readonly emit: (type: JobEvent['type'], job: Job) => void,
    private readonly logger: Logger,
    private readonly options: RunLoopOptions,
  ) {}

  start(runner: JobRunner): void {
    this.runner = runner
    this.pump()
  }

  /** Stops taking jobs; drains or aborts the running ones, which are requeued if unfinished. */
  async stop(options: StopOptions = {}): Promise<void> {
    const { drain = true, graceMs = Number.POSITIVE_INFINITY } = options
    this.runner = undefined
    clearTimeout(this.timer)
    const all = () => Promise.all([...this.active.values()].map((a) => a.done))
    if (!drain) this.abortAll()
    else if (Number.isFinite(graceMs)) {
      const grace = setTimeout(() => this.abortAll(), graceMs)
      await all()
      clearTimeout(grace)
    }
    await all()
  }

  /** Aborts a job running in this process. False when it does not run here. */
  abort(id: string, reason: AbortReason): boolean {
    const active = this.active.get(id)
    if (!active) return false
    active.reason ??= reason
    active.controller.abort(new Error(`job ${reason}`))
    return true
  }

  /** Starts as many due jobs as there are free slots, and arms the timer for the next due one. */
  pump(): void {
    if (!this.runner) return
    clearTimeout(this.timer)
    this.timer = undefined
    try {
      while (this.active.size < this.options.concurrency) {
        const job = this.table.claimNext(Date.now())
        if (!job) break
        this.execute(job, this.runner)
      }
      if (this.active.size < this.options.concurrency) {
        const due = this.table.nextDueMs()
        if (due !== undefined) this.arm(due - Date.now())
      }
    } catch (error) {
      this.logger.error({ err: error }, 'job run loop could not read the job table; retrying')
      this.arm(PUMP_RETRY_MS)
    }
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.pump(), Math.max(0, delayMs))
    this.timer.unref()
  }

  private abortAll(): void {
    for (const id of this.active.keys()) this.abort(id, 'shutdown')
  }

  private execute(job: Job, runner: JobRunner): void {
    const controller = new AbortController()
    const active: Active = { controller, reason: undefined, done: Promise.resolve() }
    this.active.set(job.id, active)
    this.emit('status', job)
    const startedAtMs = Date.parse(job.startedAt ?? new Date().toISOString())
    let settled = false
    let lastProgressMs = 0
    const onProgress: Parameters<JobRunner['run']>[1]['onProgress'] = (progress) => {
      const now = Date.now()
      if (settled || now - lastProgressMs < this.options.progressIntervalMs) return
      lastProgressMs = now
      const updated = this.table.setProgress(job.id, toJobProgress(progress, startedAtMs, now))
      if (updated) this.emit('progress', updated)
    }
    active.done = (async () => {
      try {
        const result = await runner.run(job, { signal: controller.signal, onProgress })
        settled = true
        await this.succeeded(job, result)
      } catch (error) {
        settled = true
        await this.failed(job, error, active.reason)
      }
    })()
      .catch((error: unknown) => {
        this.logger.error({ err: error, jobId: job.id }, 'could not record the end of a job')
      })
      .finally(() => {
        this.active.delete(job.id)
        this.pump()
      })
  }

  private async succeeded(job: Job, result: JobResult): Promise<void> {
    const finished = this.table.transition(job.id, 'running', 'succeeded', {
      finishedAt: new Date().toISOString(),
      result,
      progress: finalProgress(job, result),
    })
    if (!finished) {
      // Canceled while its last bytes were written: the result must not outlive the cancel.
      await deleteJobFiles(this.storage, this.logger, job.id, [result.outputKey, result.rejectsKey])
      await deleteJobFiles(this.storage, this.logger, job.id, [job.input.key])
      return
    }
    this.emit('status', finished)
    await deleteJobFiles(this.storage, this.logger, job.id, [job.input.key])
  }

  private async failed(job: Job, error: unknown, reason: AbortReason | undefined): Promise<void> {
    if (reason === 'cancel') {
      await deleteJobFiles(this.storage, this.logger, job.id, [job.input.key])
      return
    }
    if (reason === 'shutdown') {
      // Interrupted on purpose: this attempt does not count against the job.
      const requeued = this.table.transition(job.id, 'running', 'queued', {
        attempts: Math.max(0, job.attempts - 1),
        startedAt: null,
        progress: null,
        runAfterMs: 0,
      })
      if (requeued) this.emit('status', requeued)
      return
    }
    const now = new Date()
    if (isJobFailure(error)) {
      this.finishFailed(job, now, error.info)
    } else if (job.attempts < this.options.maxAttempts) {
      const delayMs = Math.min(
        MAX_RETRY_DELAY_MS,
        this.options.retryBaseMs * 2 ** Math.max(0, job.attempts - 1),
      )
      this.logger.warn(
        { err: error, jobId: job.id, attempt: job.attempts, retryInMs: delayMs },
        'job failed with a transient error; retrying',
      )
      const requeued = this.table.transition(job.id, 'running', 'queued', {
        startedAt: null,
        progress: null,
        runAfterMs: now.getTime() + delayMs,
      })
      if (requeued) this.emit('status', requeued)
      return
    } else {
      this.logger.error(
        { err: error, jobId: job.id, attempts: job.attempts },
        'job failed with an internal error after its last attempt',
      )
      this.finishFailed(job, now, {
        code: 'INTERNAL',
        message: `the job failed because of an internal error (${job.attempts} attempts); it has been logged`,
        line: null,
        column: null,
      })
    }
    await deleteJobFiles(this.storage, this.logger, job.id, [job.input.key])
  }

  private finishFailed(job: Job, now: Date, info: Job['error'] & object): void {
    const failed = this.table.transition(job.id, 'running', 'failed', {
      finishedAt: now.toISOString(),
      error: info,
    })
    if (failed) this.emit('status', failed)
  }
}
