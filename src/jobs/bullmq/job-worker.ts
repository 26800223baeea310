/**
 * The consuming side of a started BullMQ backend: a BullMQ `Worker` running `JobProcessor`, plus
 * its timers (the cancel poll and the periodic upkeep). Made by `start()`, ended by `stop()`;
 * a stopped one is not restarted: the backend makes a new one.
 */
import { Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import type { StopOptions } from '../backend.js'
import type { Job } from '../job.js'
import { JobProcessor, type JobProcessorOptions, type QueuedJobData } from './job-processor.js'
import { CLOSE_WAIT_MS, untilReconnected } from './redis-client.js'

export interface JobWorkerOptions extends JobProcessorOptions {
  client: Redis
  queueName: string
  prefix: string
  concurrency: number
  maxAttempts: number
  lockDurationMs: number
  stalledIntervalMs: number
  cancelPollMs: number
  maintenanceIntervalMs: number
  /** The periodic upkeep (retention, reconciliation). */
  maintain: () => Promise<void>
}

export class JobWorker {
  private constructor(
    private readonly worker: Worker<QueuedJobData>,
    private readonly processor: JobProcessor,
    private readonly timers: NodeJS.Timeout[],
  ) {}

  static async start(options: JobWorkerOptions): Promise<JobWorker> {
    const { logger } = options
    const processor = new JobProcessor(options)
    const worker = new Worker<QueuedJobData>(options.queueName, processor.process, {
      connection: options.client,
      prefix: options.prefix,
      autorun: false,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      // A job whose worker dies is run again, up to as many runs as a failing one gets.
      maxStalledCount: Math.max(1, options.maxAttempts - 1),
    })
    worker.on('error', (error) => logger.warn({ err: error }, 'BullMQ worker error'))
    const timers = [
      setInterval(() => {
        processor.checkActive().catch((error: unknown) => {
          logger.warn({ err: error }, 'could not check running jobs for cancels')
        })
      }, options.cancelPollMs),
      setInterval(() => {
        options.maintain().catch((error: unknown) => {
          logger.error({ err: error }, 'job maintenance failed')
        })
      }, options.maintenanceIntervalMs),
    ]
    for (const timer of timers) timer.unref()
    worker.run().catch((error: unknown) => {
      logger.error({ err: error }, 'BullMQ worker stopped')
    })
    await worker.waitUntilReady()
    return new JobWorker(worker, processor, timers)
  }

  /** Aborts a job running here because it was canceled; false when it does not run here. */
  cancel(id: string): boolean {
    return this.processor.abort(id, 'cancel')
  }

  /** A change made elsewhere: a job canceled by another process stops here. */
  heard(job: Job): void {
    this.processor.abortIfCanceled(job)
  }

  /** Stops taking jobs; drains or aborts the running ones, which go back to the queue if unfinished. */
  async stop(options: StopOptions = {}): Promise<void> {
    const { drain = true, graceMs = Number.POSITIVE_INFINITY } = options
    for (const timer of this.timers) clearInterval(timer)
    let grace: NodeJS.Timeout | undefined
    if (!drain) this.processor.abortAll('shutdown')
    else if (Number.isFinite(graceMs)) {
      grace = setTimeout(() => this.processor.abortAll('shutdown'), graceMs)
    }
    const blocking = await this.worker.getBackend().blockingClient
    if (blocking) await untilReconnected(blocking, CLOSE_WAIT_MS)
    // Waits for the running jobs: finished, or handed back to the queue once aborted.
    await this.worker.close()
    clearTimeout(grace)
  }
}
