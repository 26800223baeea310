import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue, UnrecoverableError, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { generateSongPlays } from '../../src/cli/generate-data.js'
import { aggregate } from '../../src/engine/index.js'
import type { JobBackend, JobEvent } from '../../src/jobs/backend.js'
import {
  type BullmqJobBackend,
  type BullmqJobBackendOptions,
  createBullmqJobBackend,
} from '../../src/jobs/bullmq/index.js'
import { isFinished, type Job, type JobInput } from '../../src/jobs/job.js'
import { EngineJobRunner } from '../../src/jobs/runner.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import { chunks, readAll, text } from '../contracts/blob-store.js'
import { describeJobBackendContract } from '../contracts/job-backend.js'
import { ScriptedRunner, until } from '../contracts/scripted-runner.js'
import { DESIGN_INPUT, DESIGN_OUTPUT } from '../support/design-example.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.js'

let redis: RedisServer

beforeAll(async () => {
  redis = await startRedisServer()
})

afterAll(async () => {
  await redis?.stop()
})

describeJobBackendContract('bullmq (Redis)', async (settings) => {
  const prefix = `test-${randomUUID()}`
  return {
    backend: createBullmqJobBackend({ redisUrl: redis.url, prefix, ...settings }),
    cleanup: () => deleteKeys(redis.url, prefix),
  }
})

/** Removes every key a test wrote under its prefix. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      if (keys.length > 0) await client.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
}

describe('BullmqJobBackend', () => {
  let dir: string
  let storage: Storage
  let prefix: string
  const opened: JobBackend[] = []
  let uploads = 0

  function backend(extra: Partial<BullmqJobBackendOptions> = {}): BullmqJobBackend {
    const made = createBullmqJobBackend({
      redisUrl: redis.url,
      prefix,
      storage,
      concurrency: 1,
      queueLimit: 100,
      resultTtlSeconds: 60,
      retryBaseMs: 20,
      progressIntervalMs: 20,
      ...extra,
    })
    opened.push(made)
    return made
  }

  function engineRunner(): EngineJobRunner {
    return new EngineJobRunner({ storage, threads: 2, memoryMb: 64, tempDir: join(dir, 'tmp') })
  }

  async function upload(content: string): Promise<JobInput> {
    const key = `uploads/u${++uploads}`
    const { bytes } = await storage.put(key, chunks(content))
    return { key, fileName: 'plays.csv', bytes }
  }

  async function finished(jobs: JobBackend, id: string, timeoutMs = 30_000): Promise<Job> {
    await expect
      .poll(async () => isFinished((await jobs.get(id))?.status ?? 'queued'), {
        timeout: timeoutMs,
        interval: 20,
      })
      .toBe(true)
    return (await jobs.get(id))!
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-bullmq-'))
    storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
    await storage.init()
    prefix = `test-${randomUUID()}`
  })

  afterEach(async () => {
    for (const made of opened.splice(0)) await made.close()
    await deleteKeys(redis.url, prefix)
    await rm(dir, { recursive: true, force: true })
  })

  it('does no I/O in its constructor, and says clearly when Redis cannot be reached', async () => {
    const unreachable = backend({ redisUrl: 'redis://127.0.0.1:1', connectTimeoutMs: 300 })
    await expect(unreachable.get('job_aaaaaaaaaaaaaaaaaaaaaaaa')).rejects.toThrow(/init\(\)/)
    await expect(unreachable.init()).rejects.toThrow(/cannot reach Redis at 127\.0\.0\.1:1/)
  })

  it('runs a job submitted by an API process on a worker, which streams its events back', async () => {
    const api = backend()
    const worker = backend()
    await api.init()
    await worker.init()
    await worker.start(engineRunner())
    const events: JobEvent[] = []
    const job = await api.submit({ input: await upload(DESIGN_INPUT), owner: 'key1' })
    api.subscribe(job.id, (event) => events.push(event))
    const done = await finished(api, job.id)
    expect(done).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      result: { rowsRead: 7, rowsRejected: 0, groups: 4, outputKey: `results/${job.id}.csv` },
      progress: { percent: 100, phase: 'done' },
    })
    expect(await text(storage, done.result!.outputKey)).toBe(DESIGN_OUTPUT)
    await expect
      .poll(() => events.filter((e) => e.type === 'status').map((e) => e.job.status))
      .toEqual(['running', 'succeeded'])
    expect(events.at(-1)!.job).toEqual(done)
    expect((await api.list({ owner: 'key1' })).jobs.map((j) => j.id)).toEqual([job.id])
    expect(await api.counts()).toMatchObject({ succeeded: 1, queued: 0, running: 0 })
  })

  it('fails a bad file at once on the worker, without a retry', async () => {
    const worker = backend()
    await worker.init()
    await worker.start(engineRunner())
    const input = await upload('Song,Plays\nx,1\n')
    const job = await worker.submit({ input })
    const failed = await finished(worker, job.id)
    expect(failed).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'CSV_MISSING_COLUMNS' },
    })
  })

  it('cancels a job running on another worker within a second or two', async () => {
    const api = backend()
    const worker = backend()
    await api.init()
    await worker.init()
    const runner = new ScriptedRunner(storage)
    await worker.start(runner)
    const job = await api.submit({ input: await upload(DESIGN_INPUT) })
    const next = await api.submit({ input: await upload(DESIGN_INPUT) })
    await runner.waitUntilRunning(job.id)
    const started = Date.now()
    expect((await api.cancel(job.id)).status).toBe('canceled')
    await until(() => runner.signals.get(job.id)!.aborted, 2000, 'the run to be aborted')
    expect(Date.now() - started).toBeLessThan(2000)
    await runner.waitUntilRunning(next.id, 2000)
    expect(await worker.get(job.id)).toMatchObject({ status: 'canceled' })
    await expect(storage.stat(job.input.key)).rejects.toMatchObject({ code: 'E_BLOB_NOT_FOUND' })
  })

  it('expires finished jobs after the retention period, deleting their files', async () => {
    const worker = backend({ resultTtlSeconds: 60 })
    await worker.init()
    const runner = new ScriptedRunner(storage)
    await worker.start(runner)
    const job = await worker.submit({ input: await upload(DESIGN_INPUT) })
    await runner.waitUntilRunning(job.id)
    await runner.succeed(job.id)
    const done = await finished(worker, job.id)
    const finishedMs = Date.parse(done.finishedAt!)
    expect(await worker.sweepExpired(new Date(finishedMs + 59_000))).toBe(0)
    const now = new Date(finishedMs + 61_000)
    expect(await worker.sweepExpired(now)).toBe(1)
    expect((await worker.get(job.id))!.expiredAt).toBe(now.toISOString())
    await expect(storage.stat(done.result!.outputKey)).rejects.toMatchObject({
      code: 'E_BLOB_NOT_FOUND',
    })
    expect(await worker.sweepExpired(new Date(finishedMs + 3_600_000))).toBe(0)
  })

  it('queues again an accepted job whose BullMQ job went missing', async () => {
    const api = backend()
    await api.init()
    const job = await api.submit({ input: await upload(DESIGN_INPUT) })
    const queue = new Queue('jobs', { connection: { host: '127.0.0.1', port: redis.port }, prefix })
    expect(await queue.remove(job.id)).toBe(1)
    await queue.close()
    const worker = backend()
    await worker.init()
    await worker.start(engineRunner())
    await worker.reconcile(new Date(Date.now() + 60_000))
    expect((await finished(api, job.id)).status).toBe('succeeded')
  })

  it('marks failed a job BullMQ failed without a run recording it (it stalled too often)', async () => {
    const api = backend()
    await api.init()
    const job = await api.submit({ input: await upload(DESIGN_INPUT) })
    // What BullMQ does to a job past its stall limit: fail it without calling our processor.
    const bullmq = new Worker(
      'jobs',
      async () => {
        throw new UnrecoverableError('job stalled more than allowable limit')
      },
      { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix },
    )
    try {
      expect(await finished(api, job.id, 10_000)).toMatchObject({
        status: 'failed',
        error: { code: 'INTERNAL', message: expect.stringContaining('interrupted') },
      })
    } finally {
      await bullmq.close()
    }
  })

  it('a worker killed with SIGKILL mid-job: another one completes it exactly once, with the exact output', async () => {
    const input = join(dir, 'plays.csv')
    const file = createWriteStream(input)
    await generateSongPlays({ rows: 900_000, songs: 20_000, days: 365, seed: 7 }, async (chunk) => {
      if (!file.write(chunk)) await once(file, 'drain')
    })
    file.end()
    await once(file, 'finish')
    expect((await stat(input)).size).toBeGreaterThan(25 * 1024 * 1024)
    const expected = join(dir, 'expected.csv')
    await aggregate(input, expected, { threads: 2, tempDir: dir })

    const api = backend()
    await api.init()
    const statuses: string[] = []
    const { bytes } = await storage.put('uploads/big', createReadStream(input))
    const settings = {
      redisUrl: redis.url,
      prefix,
      filesRoot: join(dir, 'files'),
      tempDir: join(dir, 'work'),
      lockDurationMs: 2000,
      stalledIntervalMs: 1000,
    }
    const first = startWorkerProcess({ ...settings, readBytesPerSecond: 4 * 1024 * 1024 })
    let second: WorkerProcess | undefined
    try {
      await first.waitFor('ready')
      const job = await api.submit({ input: { key: 'uploads/big', fileName: 'big.csv', bytes } })
      api.subscribe(job.id, (event) => {
        if (event.type === 'status') statuses.push(event.job.status)
      })
      await first.waitFor('run-start', job.id)
      // Only now: an idle second worker must not take the job first.
      second = startWorkerProcess(settings)
      await second.waitFor('ready')
      await new Promise((r) => setTimeout(r, 300))
      first.child.kill('SIGKILL')
      const done = await finished(api, job.id, 60_000)
      expect(done).toMatchObject({ status: 'succeeded', attempts: 2 })
      const output = await readAll(await storage.get(done.result!.outputKey))
      expect(output.equals(await readFile(expected))).toBe(true)
      expect(first.lines.filter((l) => l.event === 'run-end')).toEqual([])
      expect(second.lines.filter((l) => l.event === 'run-start')).toEqual([
        { event: 'run-start', id: job.id },
      ])
      expect(second.lines.filter((l) => l.event === 'run-end')).toEqual([
        { event: 'run-end', id: job.id },
      ])
      await expect.poll(() => statuses.at(-1)).toBe('succeeded')
      expect(statuses.filter((s) => s === 'succeeded')).toHaveLength(1)
    } finally {
      first.child.kill('SIGKILL')
      await second?.stop()
    }
  })
})

describe('BullmqJobBackend across a Redis restart', () => {
  it('recovers while idle, and an accepted job survives the restart and runs', async () => {
    const server = await startRedisServer({ appendOnly: true })
    const dir = await mkdtemp(join(tmpdir(), 'tally-bullmq-restart-'))
    const storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
    await storage.init()
    const settings = {
      redisUrl: server.url,
      storage,
      concurrency: 1,
      queueLimit: 10,
      resultTtlSeconds: 60,
    }
    const api = createBullmqJobBackend(settings)
    const worker = createBullmqJobBackend(settings)
    const runner = new EngineJobRunner({
      storage,
      threads: 1,
      memoryMb: 64,
      tempDir: join(dir, 'tmp'),
    })
    const submit = async (name: string) => {
      const { bytes } = await storage.put(`uploads/${name}`, chunks(DESIGN_INPUT))
      return api.submit({ input: { key: `uploads/${name}`, fileName: 'in.csv', bytes } })
    }
    const succeeded = async (id: string) => {
      await expect
        .poll(async () => (await api.get(id))?.status, { timeout: 30_000, interval: 50 })
        .toBe('succeeded')
      expect(await text(storage, `results/${id}.csv`)).toBe(DESIGN_OUTPUT)
    }
    try {
      await api.init()
      await worker.init()
      await worker.start(runner)

      // Idle through a crash and restart: everything reconnects by itself.
      await server.kill()
      await server.start()
      await succeeded((await submit('a')).id)

      // A job accepted while no worker runs survives a crash of Redis and runs afterwards.
      await worker.stop()
      const accepted = await submit('b')
      const events: string[] = []
      api.subscribe(accepted.id, (event) => events.push(event.job.status))
      await server.kill()
      await server.start()
      expect(await api.get(accepted.id)).toMatchObject({ status: 'queued' })
      await worker.start(runner)
      await succeeded(accepted.id)
      await expect.poll(() => events.at(-1)).toBe('succeeded')
    } finally {
      await worker.close()
      await api.close()
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('BullmqJobBackend across a Redis restart while a job runs', () => {
  it('records the job once Redis is back, as it finished: once', async () => {
    const server = await startRedisServer({ appendOnly: true })
    const dir = await mkdtemp(join(tmpdir(), 'tally-bullmq-restart-running-'))
    const storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
    await storage.init()
    const worker = createBullmqJobBackend({
      redisUrl: server.url,
      storage,
      concurrency: 1,
      queueLimit: 10,
      resultTtlSeconds: 60,
    })
    const runner = new ScriptedRunner(storage)
    try {
      await worker.init()
      await worker.start(runner)
      const { bytes } = await storage.put('uploads/a', chunks(DESIGN_INPUT))
      const job = await worker.submit({ input: { key: 'uploads/a', fileName: 'a.csv', bytes } })
      await runner.waitUntilRunning(job.id)
      await server.kill()
      await server.start()
      await runner.succeed(job.id)
      await expect
        .poll(async () => (await worker.get(job.id))?.status, { timeout: 30_000, interval: 50 })
        .toBe('succeeded')
      expect(await worker.get(job.id)).toMatchObject({ attempts: 1 })
      expect(runner.started).toHaveLength(1)
    } finally {
      await worker.close()
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
