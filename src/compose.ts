/**
 * The composition root: the one place that picks adapters from the configuration and wires
 * them (G4, G11). Constructors do no I/O; `compose()` initialises in dependency order and
 * `close()` releases in reverse:
 *
 *     storage (fs | s3)  ->  runner (scratch dir)  ->  job backend (SQLite | BullMQ)  ->  app
 *
 * The S3 and BullMQ adapters are loaded with `import()` only when the configuration names them
 * (an s3:// TALLY_STORAGE, a REDIS_URL), so an embedded run never loads the AWS SDK or Redis
 * code. With Redis, `tally serve` only queues jobs (`tally worker`s run them) unless it is asked
 * to run them too (`runJobs`, `--with-worker`). `createStorage` and `createJobBackend` are the
 * same choice for `tally worker`.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pino, { type Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { Config } from './config.js'
import { buildApp } from './http/app.js'
import type { HttpApp, HttpOptions } from './http/types.js'
import type { JobBackend, Logger as JobLogger } from './jobs/backend.js'
import { LocalJobBackend } from './jobs/local/local-job-backend.js'
import { EngineJobRunner } from './jobs/runner.js'
import { FsBlobStore } from './storage/fs/fs-blob-store.js'
import { Storage } from './storage/storage.js'
import type { BlobStore } from './storage/types.js'

export interface ComposeOptions {
  /** Default: pino at the configured level, JSON on stdout. */
  logger?: Logger
  http?: HttpOptions
  /** Start taking jobs at once (default). Tests turn it off to hold jobs in the queue. */
  startJobs?: boolean
  /**
   * With Redis (REDIS_URL): also run jobs in this process, as a worker does (`serve
   * --with-worker`). Default false: the API only queues them. Ignored by the embedded queue,
   * which always runs its jobs (unless `startJobs: false`).
   */
  runJobs?: boolean
}

export interface CloseOptions {
  /** How long running jobs may take to finish before they are stopped and requeued. */
  graceMs?: number
}

export interface Service {
  readonly config: Config
  readonly app: HttpApp
  readonly storage: Storage
  readonly jobs: JobBackend
  readonly runner: EngineJobRunner
  readonly metrics: Registry
  readonly logger: Logger
  /**
   * Starts the run loop (done by `compose` unless `startJobs: false`, or with Redis unless
   * `runJobs: true`).
   */
  startJobs(): Promise<void>
  /**
   * Stops accepting requests, lets running jobs finish within `graceMs` (then stops and
   * requeues them), and releases everything. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>
}

export async function compose(config: Config, options: ComposeOptions = {}): Promise<Service> {
  const logger = options.logger ?? pino({ level: config.logLevel })
  const opened: { close(): Promise<void> }[] = []
  const releaseOpened = async () => {
    for (const part of opened.reverse()) {
      await part.close().catch((error: unknown) => logger.error({ err: error }, 'close failed'))
    }
  }
  try {
    const storage = await createStorage(config)
    await storage.init()
    opened.push(storage)

    const runner = createRunner(config, storage)
    await runner.init()

    const jobs = await createJobBackend(config, storage, logger.child({ component: 'jobs' }))
    await jobs.init()
    opened.push(jobs)

    const metrics = new Registry()
    collectDefaultMetrics({ register: metrics })
    const app = await buildApp({
      config,
      storage,
      jobs,
      logger,
      metrics,
      http: options.http,
      version: packageVersion(),
    })
    await app.ready()

    let closing: Promise<void> | undefined
    const service: Service = {
      config,
      app,
      storage,
      jobs,
      runner,
      metrics,
      logger,
      startJobs: () => jobs.start(runner),
      close: (closeOptions = {}) => {
        closing ??= (async () => {
          await app.close()
          await jobs.stop({ drain: true, graceMs: closeOptions.graceMs ?? 0 })
          await jobs.close()
          await storage.close()
        })()
        return closing
      },
    }
    const runsJobs = config.redisUrl === undefined || (options.runJobs ?? false)
    if (runsJobs && (options.startJobs ?? true)) await service.startJobs()
    return service
  } catch (error) {
    await releaseOpened()
    throw error
  }
}

/** The storage `TALLY_STORAGE` names (not initialised): a directory, or an s3:// store. */
export async function createStorage(config: Config): Promise<Storage> {
  return new Storage(await createBlobStore(config))
}

async function createBlobStore(config: Config): Promise<BlobStore> {
  if (config.storage.kind === 'file') return new FsBlobStore({ root: config.storage.root })
  const { createS3BlobStore } = await import('./storage/s3/index.js')
  return createS3BlobStore({ ...config.s3, url: config.storage.url })
}

/** The job backend (not initialised): BullMQ on REDIS_URL, else the embedded SQLite queue. */
export async function createJobBackend(
  config: Config,
  storage: Storage,
  logger: JobLogger,
): Promise<JobBackend> {
  const common = {
    storage,
    concurrency: config.concurrency,
    queueLimit: config.queueLimit,
    resultTtlSeconds: config.resultTtlSeconds,
    maxAttempts: config.maxAttempts,
    logger,
  }
  if (config.redisUrl === undefined) {
    return new LocalJobBackend({ ...common, path: join(config.dataDir, 'jobs.sqlite') })
  }
  const { createBullmqJobBackend } = await import('./jobs/bullmq/index.js')
  return createBullmqJobBackend({ ...common, redisUrl: config.redisUrl })
}

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8')
    return (JSON.parse(text) as { version?: string }).version ?? 'dev'
  } catch {
    return 'dev'
  }
}

/** The job runner: the engine between the storage and the job backend. */
export function createRunner(config: Config, storage: Storage): EngineJobRunner {
  return new EngineJobRunner({
    storage,
    threads: config.threads,
    memoryMb: config.memoryMb,
    maxInputBytes: config.maxInputBytes,
    tempDir: join(config.dataDir, 'tmp'),
    sliceBytes: config.splitBytes,
  })
}
