/**
 * The composition root: the one place that picks adapters from the configuration and wires
 * them (G4, G11). Constructors do no I/O; `compose()` initialises in dependency order and
 * `close()` releases in reverse:
 *
 *     storage (fs adapter)  ->  runner (scratch dir)  ->  job backend (SQLite)  ->  app
 *
 * Embedded only for now: a Redis URL or an S3 store is refused with a clear message rather than
 * silently ignored, until their adapters exist.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pino, { type Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { Config } from './config.js'
import { buildApp } from './http/app.js'
import type { HttpApp, HttpOptions } from './http/types.js'
import { LocalJobBackend } from './jobs/local/local-job-backend.js'
import { EngineJobRunner } from './jobs/runner.js'
import { FsBlobStore } from './storage/fs/fs-blob-store.js'
import { Storage } from './storage/storage.js'

export interface ComposeOptions {
  /** Default: pino at the configured level, JSON on stdout. */
  logger?: Logger
  http?: HttpOptions
  /** Start taking jobs at once (default). Tests turn it off to hold jobs in the queue. */
  startJobs?: boolean
}

export interface CloseOptions {
  /** How long running jobs may take to finish before they are stopped and requeued. */
  graceMs?: number
}

export interface Service {
  readonly config: Config
  readonly app: HttpApp
  readonly storage: Storage
  readonly jobs: LocalJobBackend
  readonly runner: EngineJobRunner
  readonly metrics: Registry
  readonly logger: Logger
  /** Starts the run loop (done by `compose` unless `startJobs: false`). */
  startJobs(): Promise<void>
  /**
   * Stops accepting requests, lets running jobs finish within `graceMs` (then stops and
   * requeues them), and releases everything. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>
}

export async function compose(config: Config, options: ComposeOptions = {}): Promise<Service> {
  if (config.redisUrl !== undefined) {
    throw new Error(
      'REDIS_URL is set, but this version of tally has no Redis (BullMQ) backend yet; unset it to use the embedded queue',
    )
  }
  if (config.storage.kind !== 'file') {
    throw new Error(
      'TALLY_STORAGE names an S3 store, but this version of tally has no S3 adapter yet; use a file:// location',
    )
  }
  const logger = options.logger ?? pino({ level: config.logLevel })
  const opened: { close(): Promise<void> }[] = []
  const releaseOpened = async () => {
    for (const part of opened.reverse()) {
      await part.close().catch((error: unknown) => logger.error({ err: error }, 'close failed'))
    }
  }
  try {
    const storage = new Storage(new FsBlobStore({ root: config.storage.root }))
    await storage.init()
    opened.push(storage)

    const runner = new EngineJobRunner({
      storage,
      threads: config.threads,
      memoryMb: config.memoryMb,
      maxInputBytes: config.maxInputBytes,
      tempDir: join(config.dataDir, 'tmp'),
    })
    await runner.init()

    const jobs = new LocalJobBackend({
      path: join(config.dataDir, 'jobs.sqlite'),
      storage,
      concurrency: config.concurrency,
      queueLimit: config.queueLimit,
      resultTtlSeconds: config.resultTtlSeconds,
      logger: logger.child({ component: 'jobs' }),
    })
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
    if (options.startJobs ?? true) await service.startJobs()
    return service
  } catch (error) {
    await releaseOpened()
    throw error
  }
}

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8')
    return (JSON.parse(text) as { version?: string }).version ?? 'dev'
  } catch {
    return 'dev'
  }
}
