/**
 * A generated file of a few hundred MB, larger than the default split threshold (256 MiB), on
 * two workers: the job is split into two parts and its output is byte-identical to one run of
 * the engine over the whole file.
 */
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { generateSongPlays } from '../../src/cli/generate-data.js'
import { aggregate } from '../../src/engine/index.js'
import type { JobBackend, Logger } from '../../src/jobs/backend.js'
import { createBullmqJobBackend } from '../../src/jobs/bullmq/index.js'
import { isFinished } from '../../src/jobs/job.js'
import { DEFAULT_SLICE_BYTES, EngineJobRunner } from '../../src/jobs/runner.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import { readAll } from '../contracts/blob-store.js'
import { deleteRedisKeys } from '../support/redis-keys.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

let redis: RedisServer
let dir: string
const opened: JobBackend[] = []

beforeAll(async () => {
  redis = await startRedisServer()
  dir = await mkdtemp(join(tmpdir(), 'tally-split-large-'))
})

afterAll(async () => {
  for (const backend of opened.splice(0)) await backend.close()
  await redis?.stop()
  await rm(dir, { recursive: true, force: true })
})

it('splits a file of a few hundred MB across two workers, with the output of one run', async () => {
  const input = join(dir, 'plays.csv')
  const file = createWriteStream(input)
  await generateSongPlays(
    { rows: 9_000_000, songs: 30_000, days: 365, seed: 21, badRowRate: 0.0001 },
    async (chunk) => {
      if (!file.write(chunk)) await once(file, 'drain')
    },
  )
  file.end()
  await once(file, 'finish')
  const { size } = await stat(input)
  expect(size).toBeGreaterThan(DEFAULT_SLICE_BYTES)
  const expected = join(dir, 'expected.csv')
  await aggregate(input, expected, { threads: 2, tempDir: dir })

  const storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
  await storage.init()
  const { bytes } = await storage.put('uploads/big', createReadStream(input))
  await rm(input)
  const splits: object[] = []
  const logger: Logger = {
    info: (details, message) => {
      if (message === 'job split into parts') splits.push(details)
    },
    warn() {},
    error() {},
  }
  const prefix = `split-large-${randomUUID()}`
  const backend = () => {
    const made = createBullmqJobBackend({
      redisUrl: redis.url,
      prefix,
      storage,
      concurrency: 1,
      queueLimit: 10,
      resultTtlSeconds: 600,
      logger,
    })
    opened.push(made)
    return made
  }
  const api = backend()
  await api.init()
  for (let i = 0; i < 2; i++) {
    const worker = backend()
    await worker.init()
    const runner = new EngineJobRunner({
      storage,
      threads: 1,
      memoryMb: 512,
      tempDir: join(dir, `work-${i}`),
    })
    await runner.init()
    await worker.start(runner)
  }
  const job = await api.submit({ input: { key: 'uploads/big', fileName: 'big.csv', bytes } })
  await expect
    .poll(async () => isFinished((await api.get(job.id))?.status ?? 'queued'), {
      timeout: 240_000,
      interval: 200,
    })
    .toBe(true)
  const done = (await api.get(job.id))!
  expect(done.status).toBe('succeeded')
  expect(splits).toEqual([{ jobId: job.id, parts: 2 }])
  const output = await readAll(await storage.get(done.result!.outputKey))
  expect(output.equals(await readFile(expected))).toBe(true)
  expect(done.result!.groups).toBeGreaterThan(1_000_000)

  await deleteRedisKeys(redis.url, prefix)
}, 300_000)
