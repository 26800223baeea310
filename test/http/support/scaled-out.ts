/**
 * tally scaled out, as deployed: a real `redis-server`, a real S3-compatible server (s3rver, with
 * the multipart calls tus needs: s3rver-multipart.ts),
 * one `tally serve` process (which only queues) and two `tally worker` processes, all configured
 * by the environment alone and reached over real HTTP. Started once per test file
 * (`scaledOut(...).boot()`), it is a `Deployment` whose targets share it: each target has its own pair
 * of API keys (the API runs with TALLY_API_KEYS), so each sees only its own jobs.
 *
 * Holding jobs (`held`): the test pauses the BullMQ queue (the same Redis, prefix and queue name
 * the processes use) and resumes it on `release()`, so the workers take nothing meanwhile. The
 * pause is global: suites run one after another in a file, and each resumes on close.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { freePort } from '../../support/free-port.js'
import { startRedisServer } from '../../support/redis-server.js'
import { S3RVER_CREDENTIALS } from '../../support/s3-server.js'
import {
  startTallyProcess,
  stopTallyProcess,
  type TallyProcess,
  waitForOutput,
} from '../../support/tally-process.js'
import { startMultipartS3Server } from './s3rver-multipart.js'
import { type Deployment, httpInject, type Target } from './target.js'

const root = resolve(import.meta.dirname, '../../..')
const BUCKET = 'tally'
const PREFIX = 'scaled-out'
const START_TIMEOUT_MS = 30_000
/** Pairs of keys handed to targets, one pair each. */
const KEY_PAIRS = 40

export interface ScaledOutOptions {
  /** TALLY_MAX_UPLOAD_BYTES of the API. */
  maxUploadBytes: number
}

export interface ScaledOut extends Deployment {
  /** Starts Redis, S3, the API and the workers (once; later calls wait for the first). */
  boot(): Promise<void>
  /** After `boot`. */
  readonly url: string
  readonly api: TallyProcess
  readonly workers: readonly TallyProcess[]
  /** SIGTERM to the API and the workers (SIGKILL after 5 s); resolves once all exited. */
  stopProcesses(): Promise<void>
  /** Stops everything and removes the temp files. */
  stop(): Promise<void>
}

interface Running {
  url: string
  api: TallyProcess
  workers: TallyProcess[]
  keys: string[]
  queue: Queue
  connection: Redis
  s3: S3Client
}

/**
 * The deployment, not started yet: suites are registered with it at collection time; the test
 * file calls `boot()` in `beforeAll` and `stop()` in `afterAll`.
 */
export function scaledOut(options: ScaledOutOptions): ScaledOut {
  const processes: TallyProcess[] = []
  const cleanups: (() => Promise<void>)[] = []
  let booting: Promise<Running> | undefined
  let running: Running | undefined
  let nextPair = 0
  const started = () => {
    if (!running) throw new Error('the scaled-out deployment is not booted: call boot() first')
    return running
  }
  const stopProcesses = () =>
    Promise.all(processes.map((made) => stopTallyProcess(made))).then(() => {})

  async function boot(): Promise<Running> {
    const dir = await mkdtemp(join(tmpdir(), 'tally-scaled-out-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    try {
      const [redis, s3] = await Promise.all([startRedisServer(), startMultipartS3Server()])
      cleanups.push(
        () => redis.stop(),
        () => s3.stop(),
      )
      await s3.createBucket(BUCKET)
      const port = await freePort()
      const keys = Array.from({ length: KEY_PAIRS * 2 }, (_, i) => `key-${i}-${process.pid}`)
      const env = (name: string): NodeJS.ProcessEnv => ({
        ...process.env,
        REDIS_URL: redis.url,
        TALLY_STORAGE: `s3://${BUCKET}/${PREFIX}`,
        TALLY_S3_ENDPOINT: s3.endpoint,
        TALLY_S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        TALLY_S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        TALLY_API_KEYS: keys.join(','),
        TALLY_MAX_UPLOAD_BYTES: String(options.maxUploadBytes),
        TALLY_DATA_DIR: join(dir, name),
        TALLY_HOST: '127.0.0.1',
        TALLY_PORT: String(port),
        TALLY_THREADS: '1',
        TALLY_CONCURRENCY: '1',
        TALLY_LOG_LEVEL: 'info',
      })
      const start = (name: string, args: string[]) => {
        const made = startTallyProcess(name, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
          cwd: root,
          env: env(name),
        })
        processes.push(made)
        return made
      }
      const api = start('api', ['serve', '--grace', '1'])
      const workers = [
        start('worker-1', ['worker', '--grace', '1']),
        start('worker-2', ['worker', '--grace', '1']),
      ]
      const connection = new Redis(redis.url, { maxRetriesPerRequest: null })
      // The queue name and prefix the processes use (the BullMQ backend's defaults).
      const queue = new Queue('jobs', { connection, prefix: 'tally' })
      cleanups.push(async () => {
        await queue.close().catch(() => {})
        connection.disconnect()
      })
      await Promise.all([
        waitForOutput(api, 'tally is serving', START_TIMEOUT_MS),
        ...workers.map((worker) =>
          waitForOutput(worker, 'tally worker is taking jobs', START_TIMEOUT_MS),
        ),
        queue.waitUntilReady(),
      ])
      return {
        url: `http://127.0.0.1:${port}`,
        api,
        workers,
        keys,
        queue,
        connection,
        s3: s3.client(),
      }
    } catch (error) {
      const output = processes.map((made) => `--- ${made.name}:\n${made.output()}`).join('\n')
      throw new Error(`the scaled-out deployment did not start: ${error}\n${output}`)
    }
  }

  return {
    name: 'scaled-out',
    async boot() {
      booting ??= boot()
      running = await booting
    },
    get url() {
      return started().url
    },
    get api() {
      return started().api
    },
    get workers() {
      return started().workers
    },
    stopProcesses,
    async stop() {
      await stopProcesses()
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
    },
    async start(targetOptions = {}) {
      const { url, keys, queue, s3 } = started()
      await assertAlive(started(), processes)
      if (nextPair >= KEY_PAIRS) throw new Error(`more than ${KEY_PAIRS} targets: raise KEY_PAIRS`)
      const pair = [keys[nextPair * 2]!, keys[nextPair * 2 + 1]!] as const
      nextPair++
      const headers: Record<string, string> = targetOptions.auth ? {} : { 'x-api-key': pair[0] }
      if (targetOptions.held) await queue.pause()
      const target: Target = {
        deployment: 'scaled-out',
        url,
        headers,
        inject: httpInject(url, headers),
        keys: pair,
        maxUploadBytes: options.maxUploadBytes,
        release: () => queue.resume(),
        storedFiles: () => listObjects(s3, `${PREFIX}/`),
        async removeStoredFile(key) {
          await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/${key}` }))
        },
        close: () => queue.resume(),
      }
      return target
    },
  }
}

/**
 * Fails with a clear message when a part of the deployment is gone (so a suite does not fail
 * on a confusing 503 or ECONNREFUSED from deep inside the API).
 */
async function assertAlive(running: Running, processes: readonly TallyProcess[]): Promise<void> {
  for (const made of processes) {
    if (made.child.exitCode !== null || made.child.signalCode !== null) {
      throw new Error(
        `${made.name} exited (${made.child.exitCode ?? made.child.signalCode}):\n${made.output()}`,
      )
    }
  }
  // Bounded: the connection retries for ever (BullMQ needs maxRetriesPerRequest: null).
  const timeout = new Promise<never>((_, fail) => {
    setTimeout(() => fail(new Error('no answer within 5 s')), 5_000).unref()
  })
  await Promise.race([running.connection.ping(), timeout]).catch((error: unknown) => {
    throw new Error(`the deployment's redis-server does not answer: ${error}`)
  })
  await listObjects(running.s3, `${PREFIX}/`).catch((error: unknown) => {
    throw new Error(`the deployment's S3 server (s3rver) does not answer: ${error}`)
  })
}

async function listObjects(client: S3Client, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }),
    )
    for (const object of page.Contents ?? []) keys.push(object.Key!.slice(prefix.length))
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  return keys
}
