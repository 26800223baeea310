/**
 * The embedded service (HTTP app, SQLite job backend with its run loop, the engine runner)
 * composed as `src/compose.ts` does, but over a BlobStore the test gives (a `FaultyStore`), and
 * listening on 127.0.0.1 with port 0. `compose()` picks its store from the configuration only,
 * so this mirrors its wiring; the parts are the real ones.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import { type Config, loadConfig } from '../../../src/config.js'
import { buildApp } from '../../../src/http/app.js'
import type { HttpApp, HttpOptions } from '../../../src/http/types.js'
import { LocalJobBackend } from '../../../src/jobs/local/local-job-backend.js'
import { EngineJobRunner } from '../../../src/jobs/runner.js'
import { Storage } from '../../../src/storage/storage.js'
import type { BlobStore } from '../../../src/storage/types.js'

export interface StoreService {
  dir: string
  url: string
  app: HttpApp
  jobs: LocalJobBackend
  storage: Storage
  config: Config
  close(): Promise<void>
}

export interface StoreServiceOptions {
  /** The data directory (SQLite file, scratch space); a fresh temp one by default. */
  dir?: string
  /** Builds the store from the data directory. */
  store: (dir: string) => BlobStore
  env?: Record<string, string>
  http?: HttpOptions
  /** Backoff before the first retry of a transiently failed job. Default 100 ms. */
  retryBaseMs?: number
  /** Age past which an upload without a job is removed (default: the backend's). */
  orphanUploadGraceMs?: number
}

export async function startWithStore(options: StoreServiceOptions): Promise<StoreService> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tally-faults-store-')))
  const config = loadConfig(
    {
      TALLY_DATA_DIR: dir,
      TALLY_THREADS: '1',
      TALLY_CONCURRENCY: '1',
      TALLY_LOG_LEVEL: 'silent',
      ...options.env,
    },
    dir,
  )
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
  const storage = new Storage(options.store(dir))
  await storage.init()
  const runner = new EngineJobRunner({
    storage,
    threads: config.threads,
    memoryMb: config.memoryMb,
    maxInputBytes: config.maxInputBytes,
    tempDir: join(dir, 'tmp'),
  })
  await runner.init()
  const jobs = new LocalJobBackend({
    path: join(dir, 'jobs.sqlite'),
    storage,
    concurrency: config.concurrency,
    queueLimit: config.queueLimit,
    resultTtlSeconds: config.resultTtlSeconds,
    maxAttempts: config.maxAttempts,
    retryBaseMs: options.retryBaseMs ?? 100,
    orphanUploadGraceMs: options.orphanUploadGraceMs,
    logger,
  })
  await jobs.init()
  const app = await buildApp({
    config,
    storage,
    jobs,
    logger,
    metrics: new Registry(),
    http: { rateLimit: false, ...options.http },
  })
  await app.ready()
  await jobs.start(runner)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return {
    dir,
    url: `http://127.0.0.1:${port}`,
    app,
    jobs,
    storage,
    config,
    async close() {
      await app.close()
      await jobs.stop({ drain: false })
      await jobs.close()
      await storage.close()
      if (!options.dir) await rm(dir, { recursive: true, force: true })
    },
  }
}
