/**
 * The JobBackend on BullMQ and Redis, for running jobs on `tally worker`s on any number of
 * machines. Roles as in BullMQ (G5): a `Queue` takes submissions, a `Worker` (`job-worker.ts`,
 * only once `start()` is called) runs them through `JobProcessor`, and `QueueEvents` brings
 * every change made by any process to this one's subscribers.
 *
 * The job records (`job-records.ts`) hold the Job model, so `get`, `list` and `counts` answer
 * from any process; BullMQ's job carries only the id and drives runs, retries with backoff, and
 * stall detection (a worker killed mid-job: after `lockDurationMs` another worker takes it).
 *
 * Events: a change made here is told to local subscribers at once; the same change, written to
 * the queue's events stream by the script that made it, reaches the other processes, which skip
 * their own (each backend has an origin id).
 */
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { Queue, QueueEvents, type QueueEventsListener } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Storage } from '../../storage/storage.js'
import {
  ALL_JOBS,
  type JobBackend,
  type JobEvent,
  type JobListener,
  type JobPage,
  type JobRunner,
  type ListJobsQuery,
  type Logger,
  type StopOptions,
  type SubmitJob,
  silentLogger,
} from '../backend.js'
import {
  createJobId,
  isFinished,
  isJobId,
  type Job,
  type JobStatus,
  resolveJobOptions,
} from '../job.js'
import { JobError } from '../job-error.js'
import {
  failInterrupted,
  fileKeys,
  type MaintenanceDeps,
  reconcile,
  sweepExpired,
} from './job-maintenance.js'
import type { QueuedJobData } from './job-processor.js'
import { JobRecords, jobFromEvent } from './job-records.js'
import { JobWorker } from './job-worker.js'
import {
  CLOSE_WAIT_MS,
  createRedisClient,
  settleWithin,
  untilReconnected,
  waitUntilReady,
} from './redis-client.js'

export interface BullmqJobBackendOptions {
  /**
   * A client to use (and leave open on close); it must have `maxRetriesPerRequest: null`, as
   * BullMQ requires. Or `redisUrl`, and the backend makes and closes its own.
   */
  connection?: Redis
  redisUrl?: string
  storage: Storage
  /** Jobs run at once by this process once started. */
  concurrency: number
  /** Queued jobs accepted before `submit` throws `QUEUE_FULL`. */
  queueLimit: number
  /** Seconds a finished job's files are kept. */
  resultTtlSeconds: number
  /** Runs of a job that fails with transient errors. Default 3. */
  maxAttempts?: number
  /** Backoff before retry n is `retryBaseMs * 2^(n-1)`. Default 1000. */
  retryBaseMs?: number
  /** Progress is stored and emitted at most this often per job. Default 250. */
  progressIntervalMs?: number
  /** Redis key prefix (BullMQ's `prefix`). Default `tally`. */
  prefix?: string
  /** Default `jobs`. */
  queueName?: string
  /** How long a worker holds a job without renewing its lock; a dead worker's job is taken over after it. Default 30 000. */
  lockDurationMs?: number
  /** How often workers look for jobs whose worker died. Default 30 000. */
  stalledIntervalMs?: number
  /** How often a worker checks that its running jobs were not canceled (events are the fast path). Default 1000. */
  cancelPollMs?: number
  /** Retention sweep and reconciliation, while started. Default 60 000. */
  maintenanceIntervalMs?: number
  /** How long `init()` waits for Redis. Default 30 000. */
  connectTimeoutMs?: number
  logger?: Logger
}

/** What this backend reads from the queue's events stream. */
interface FeedListener extends QueueEventsListener {
  'tally.job': (args: Record<string, string>, id: string) => void
}

interface Connected {
  client: Redis
  queue: Queue<QueuedJobData>
  queueEvents: QueueEvents
  records: JobRecords
}

export class BullmqJobBackend implements JobBackend {
  private readonly origin = randomUUID()
  private readonly events = new EventEmitter()
  private readonly logger: Logger
  private connected: Connected | undefined
  private started: JobWorker | undefined

  constructor(private readonly options: BullmqJobBackendOptions) {
    if (!options.connection && !options.redisUrl) {
      throw new TypeError('BullmqJobBackend needs a connection or a redisUrl')
    }
    this.logger = options.logger ?? silentLogger
    // Every SSE client is a listener; there is no sensible maximum.
    this.events.setMaxListeners(0)
  }

  private get prefix(): string {
    return this.options.prefix ?? 'tally'
  }

  private get queueName(): string {
    return this.options.queueName ?? 'jobs'
  }

  async init(): Promise<void> {
    if (this.connected) return
    const owned = this.options.connection === undefined
    const client = this.options.connection ?? createRedisClient(this.options.redisUrl!)
    if (owned) client.on('error', (error) => this.logger.warn({ err: error }, 'Redis error'))
    let queue: Queue<QueuedJobData> | undefined
    let queueEvents: QueueEvents | undefined
    try {
      await waitUntilReady(client, this.options.connectTimeoutMs ?? 30_000)
      const connection = { connection: client, prefix: this.prefix }
      queue = new Queue<QueuedJobData>(this.queueName, connection)
      queue.on('error', (error) => this.logger.warn({ err: error }, 'BullMQ queue error'))
      await queue.waitUntilReady()
      const eventsKey = queue.keys.events!
      // Read from the stream's current end, so nothing written after init() is missed.
      const [last] = await client.xrevrange(eventsKey, '+', '-', 'COUNT', 1)
      queueEvents = new QueueEvents(this.queueName, {
        ...connection,
        autorun: false,
        lastEventId: last?.[0] ?? '0',
      })
      queueEvents.on('error', (error) => this.logger.warn({ err: error }, 'BullMQ events error'))
      const records = new JobRecords(
        client,
        `${this.prefix}:${this.queueName}:tally:`,
        eventsKey,
        this.origin,
      )
      this.connected = { client, queue, queueEvents, records }
      queueEvents.on<FeedListener>('tally.job', (args: Record<string, string>) =>
        this.onChangeElsewhere(args),
      )
      // BullMQ failed a job on its own (it stalled too often): the record must say so too.
      queueEvents.on('failed', ({ jobId, failedReason }) => {
        Promise.resolve()
          .then(() => failInterrupted(this.maintenanceDeps(), jobId, failedReason))
          .catch((error: unknown) => {
            this.logger.error({ err: error, jobId }, 'could not record a failed BullMQ job')
          })
      })
      queueEvents.run().catch((error: unknown) => {
        this.logger.error({ err: error }, 'BullMQ events reader stopped')
      })
      await queueEvents.waitUntilReady()
    } catch (error) {
      this.connected = undefined
      await queueEvents?.close().catch(() => {})
      await queue?.close().catch(() => {})
      if (owned) client.disconnect()
      throw error
    }
  }

  async close(): Promise<void> {
    await this.stop({ drain: false })
    const connected = this.connected
    if (!connected) return
    this.connected = undefined
    await untilReconnected(await connected.queueEvents.getBackend().client, CLOSE_WAIT_MS)
    await settleWithin(connected.queueEvents.close(), CLOSE_WAIT_MS)
    await settleWithin(connected.queue.close(), CLOSE_WAIT_MS)
    if (this.options.connection === undefined) {
      // QUIT waits for Redis to answer; without Redis, drop the connection instead.
      if (!(await settleWithin(connected.client.quit(), CLOSE_WAIT_MS))) {
        connected.client.disconnect()
      }
    }
  }

  async submit(submission: SubmitJob): Promise<Job> {
    const { records } = this.open()
    const id = submission.id ?? createJobId()
    if (!isJobId(id))
      throw new TypeError(`job ids are made by createJobId(); got ${JSON.stringify(id)}`)
    const job: Job = {
      id,
      owner: submission.owner ?? null,
      status: 'queued',
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      expiredAt: null,
      attempts: 0,
      input: { ...submission.input },
      options: resolveJobOptions(submission.options),
      progress: null,
      result: null,
      error: null,
    }
    const queued = await records.insert(job, this.options.queueLimit)
    this.emit('status', queued)
    try {
      await this.addToQueue(id)
    } catch (error) {
      // The record must not promise a run nobody will make.
      const failed = await records.transition(id, {
        from: ['queued'],
        to: 'failed',
        patch: {
          finishedAt: new Date().toISOString(),
          error: {
            code: 'INTERNAL',
            message: 'the job could not be queued',
            line: null,
            column: null,
          },
        },
      })
      if (failed.kind === 'ok') this.emit('status', failed.job)
      throw error
    }
    return queued
  }

  async get(id: string): Promise<Job | undefined> {
    const { records } = this.open()
    return isJobId(id) ? records.get(id) : undefined
  }

  async list(query: ListJobsQuery = {}): Promise<JobPage> {
    return this.open().records.list(query)
  }

  async cancel(id: string): Promise<Job> {
    const { records, queue } = this.open()
    if (!isJobId(id)) throw notFound(id)
    const canceled = await records.transition(id, {
      from: ['queued', 'running'],
      to: 'canceled',
      patch: { finishedAt: new Date().toISOString() },
    })
    if (canceled.kind === 'missing') throw notFound(id)
    if (canceled.kind !== 'ok') {
      if (canceled.status === 'canceled')
        return (await records.get(id)) ?? Promise.reject(notFound(id))
      throw new JobError(
        'JOB_ALREADY_FINISHED',
        `job ${id} already ${canceled.status}; it cannot be canceled`,
      )
    }
    this.emit('status', canceled.job)
    if (canceled.previous === 'running') {
      // Here: abort now. Elsewhere: that worker hears of it from the events stream.
      this.started?.cancel(id)
    } else {
      // A worker that took it meanwhile finds the record canceled and does nothing.
      await queue.remove(id).catch(() => 0)
      await this.deleteQuietly(id, canceled.job.input.key)
    }
    return canceled.job
  }

  async delete(id: string): Promise<void> {
    const { records, queue } = this.open()
    const job = isJobId(id) ? await records.get(id) : undefined
    if (!job) throw notFound(id)
    if (!isFinished(job.status)) {
      throw new JobError('JOB_NOT_FINISHED', `job ${id} is ${job.status}; cancel it first`)
    }
    // Files first: if storage fails, the job stays and the delete can be retried.
    for (const key of fileKeys(job)) await this.options.storage.delete(key)
    await records.remove(id)
    await queue.remove(id).catch(() => 0)
  }

  subscribe(jobId: string, listener: JobListener): () => void {
    this.events.on(jobId, listener)
    return () => {
      this.events.off(jobId, listener)
    }
  }

  async counts(): Promise<Record<JobStatus, number>> {
    return this.open().records.counts()
  }

  async start(runner: JobRunner): Promise<void> {
    const { client, records } = this.open()
    if (this.started) return
    const o = this.options
    this.started = await JobWorker.start({
      client,
      records,
      runner,
      queue: this.open().queue,
      partJobOptions: this.retryOptions(),
      queueName: this.queueName,
      prefix: this.prefix,
      storage: o.storage,
      logger: this.logger,
      concurrency: o.concurrency,
      maxAttempts: o.maxAttempts ?? 3,
      lockDurationMs: o.lockDurationMs ?? 30_000,
      stalledIntervalMs: o.stalledIntervalMs ?? 30_000,
      progressIntervalMs: o.progressIntervalMs ?? 250,
      cancelPollMs: o.cancelPollMs ?? 1000,
      maintenanceIntervalMs: o.maintenanceIntervalMs ?? 60_000,
      emit: (type, job) => this.emit(type, job),
      maintain: () => this.maintain(),
    })
  }

  async stop(options: StopOptions = {}): Promise<void> {
    const started = this.started
    this.started = undefined
    await started?.stop(options)
  }

  /**
   * Deletes the files of jobs finished more than the retention period before `now` and marks
   * them expired. Returns how many jobs expired.
   */
  async sweepExpired(now: Date = new Date()): Promise<number> {
    this.open()
    return sweepExpired(this.maintenanceDeps(), this.options.resultTtlSeconds, now)
  }

  /** Makes sure every unfinished job has a BullMQ job to run it (see `job-maintenance.ts`). */
  async reconcile(now: Date = new Date()): Promise<void> {
    this.open()
    await reconcile(this.maintenanceDeps(), now)
  }

  /** One backend at a time does the upkeep for the queue. */
  private async maintain(): Promise<void> {
    const { client } = this.open()
    const intervalMs = this.options.maintenanceIntervalMs ?? 60_000
    const key = `${this.prefix}:${this.queueName}:tally:maintenance`
    if ((await client.set(key, this.origin, 'PX', intervalMs, 'NX')) !== 'OK') return
    await this.sweepExpired()
    await this.reconcile()
  }

  private async addToQueue(id: string): Promise<void> {
    await this.open().queue.add(
      'aggregate',
      { id },
      {
        jobId: id,
        ...this.retryOptions(),
        // The job record keeps everything worth keeping.
        removeOnComplete: true,
        removeOnFail: { age: this.options.resultTtlSeconds },
      },
    )
  }

  private retryOptions() {
    return {
      attempts: this.options.maxAttempts ?? 3,
      backoff: { type: 'exponential' as const, delay: this.options.retryBaseMs ?? 1000 },
    }
  }

  private maintenanceDeps(): MaintenanceDeps {
    const { records, queue } = this.open()
    return {
      records,
      queue,
      storage: this.options.storage,
      logger: this.logger,
      emit: (type, job) => this.emit(type, job),
      addToQueue: (id) => this.addToQueue(id),
    }
  }

  /** A change another process made: stop the job here if it was canceled, and tell subscribers. */
  private onChangeElsewhere(args: Record<string, string>): void {
    if (args.origin === this.origin) return
    const job = jobFromEvent(args)
    if (!job) return
    this.started?.heard(job)
    this.emit(args.type === 'progress' ? 'progress' : 'status', job)
  }

  private emit(type: JobEvent['type'], job: Job): void {
    const event: JobEvent = { type, job }
    for (const name of [job.id, ALL_JOBS]) {
      for (const listener of this.events.listeners(name) as JobListener[]) {
        try {
          listener(event)
        } catch (error) {
          this.logger.error({ err: error, jobId: job.id }, 'a job event listener threw')
        }
      }
    }
  }

  private open(): Connected {
    if (!this.connected) throw new Error('BullmqJobBackend is not initialised: call init() first')
    return this.connected
  }

  private async deleteQuietly(jobId: string, key: string): Promise<void> {
    try {
      await this.options.storage.delete(key)
    } catch (error) {
      this.logger.warn({ err: error, jobId, key }, 'could not delete a job file')
    }
  }
}

function notFound(id: string): JobError {
  return new JobError('JOB_NOT_FOUND', `no job ${id}`)
}
