/**
 * One large file split across workers (BullMQ parts, then a merge) on a real redis-server: the
 * result and rejects are byte-identical to one run's, in both orders; a bad row fails the job
 * with the line one run reports; progress sums the parts'; a cancel stops every part; no part
 * blob outlives the job.
 */
import { randomUUID } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { aggregate, isEngineError } from '../../src/engine/index.js'
import type { JobBackend, JobEvent, Logger } from '../../src/jobs/backend.js'
import { createBullmqJobBackend } from '../../src/jobs/bullmq/index.js'
import { isFinished, type Job, type JobOptions } from '../../src/jobs/job.js'
import { EngineJobRunner } from '../../src/jobs/runner.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import { readAll } from '../contracts/blob-store.js'
import { largeCsv } from '../support/large-csv.js'
import { deleteRedisKeys } from '../support/redis-keys.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

const SLICE_BYTES = 1024 * 1024

let redis: RedisServer
let dir: string
let storage: Storage
let prefix: string
const opened: JobBackend[] = []
const splits: { jobId: string; parts: number }[] = []

const logger: Logger = {
  info(details, message) {
    if (message === 'job split into parts') splits.push(details as (typeof splits)[number])
  },
  warn() {},
  error() {},
}

beforeAll(async () => {
  redis = await startRedisServer()
})

afterAll(async () => {
  await redis?.stop()
})

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-split-'))
  storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
  await storage.init()
  prefix = `split-${randomUUID()}`
  splits.length = 0
})

afterEach(async () => {
  for (const backend of opened.splice(0)) await backend.close()
  await deleteRedisKeys(redis.url, prefix)
  await rm(dir, { recursive: true, force: true })
})

/**
 * An API backend and `workers` started worker backends, each with its own runner, whose work
 * directories are under `tempRoot`.
 */
async function deployment(workers: number, tempRoot = dir): Promise<JobBackend> {
  const make = () => {
    const backend = createBullmqJobBackend({
      redisUrl: redis.url,
      prefix,
      storage,
      concurrency: 1,
      queueLimit: 100,
      resultTtlSeconds: 600,
      retryBaseMs: 20,
      progressIntervalMs: 20,
      logger,
    })
    opened.push(backend)
    return backend
  }
  const api = make()
  await api.init()
  for (let i = 0; i < workers; i++) {
    const worker = make()
    await worker.init()
    const runner = new EngineJobRunner({
      storage,
      threads: 1,
      memoryMb: 64,
      tempDir: join(tempRoot, `tmp-${i}`),
      sliceBytes: SLICE_BYTES,
    })
    await runner.init()
    await worker.start(runner)
  }
  return api
}

async function submit(api: JobBackend, bytes: Buffer, options: Partial<JobOptions>) {
  const key = `uploads/${randomUUID()}`
  await storage.put(key, Readable.from([bytes]))
  return api.submit({ input: { key, fileName: 'plays.csv', bytes: bytes.length }, options })
}

async function finished(api: JobBackend, id: string): Promise<Job> {
  await expect
    .poll(async () => isFinished((await api.get(id))?.status ?? 'queued'), {
      timeout: 60_000,
      interval: 50,
    })
    .toBe(true)
  return (await api.get(id))!
}

/** One run of the engine over the whole file. */
async function oneRun(bytes: Buffer, options: Partial<JobOptions>) {
  const input = join(dir, `whole-${randomUUID()}.csv`)
  await writeFile(input, bytes)
  const output = `${input}.out`
  const rejects = `${input}.rejects`
  try {
    await aggregate(input, output, { ...options, rejects, threads: 2, tempDir: dir })
    return { output: await readFile(output), rejects: await readFile(rejects) }
  } catch (error) {
    if (!isEngineError(error)) throw error
    return { error: { code: error.code, line: error.line ?? null, message: error.message } }
  }
}

async function storedParts(): Promise<string[]> {
  const keys: string[] = []
  for await (const key of storage.list('parts/')) keys.push(key)
  return keys
}

describe('a large file split across two workers', () => {
  // Quoted fields with line ends all through it: cuts fall inside them.
  const big = largeCsv(5, 6 * SLICE_BYTES)

  it.each(['first_seen', 'sorted'] as const)(
    'gives the bytes of one run (%s), with progress summed over the parts',
    async (order) => {
      const api = await deployment(2)
      const job = await submit(api, big, { order, onError: 'skip' })
      const events: JobEvent[] = []
      api.subscribe(job.id, (event) => events.push(event))
      const done = await finished(api, job.id)
      expect(done.status).toBe('succeeded')
      expect(splits).toEqual([{ jobId: job.id, parts: 2 }])
      const expected = await oneRun(big, { order })
      expect(
        (await readAll(await storage.get(done.result!.outputKey))).equals(expected.output!),
      ).toBe(true)
      expect(
        (await readAll(await storage.get(done.result!.rejectsKey!))).equals(expected.rejects!),
      ).toBe(true)
      expect(done.result!.rowsRejected).toBeGreaterThan(0)
      expect(done.progress).toMatchObject({ percent: 100, bytesDone: big.length })
      const reading = events.filter((e) => e.type === 'progress').map((e) => e.job.progress!)
      expect(reading.length).toBeGreaterThan(0)
      for (const p of reading) {
        expect(p.bytesTotal).toBe(big.length)
        expect(p.bytesDone).toBeLessThanOrEqual(big.length)
      }
      expect(await storedParts()).toEqual([])
      // The input went with the job, as for any job.
      await expect(storage.stat(done.input.key)).rejects.toThrow()
    },
    90_000,
  )

  it('aggregates again, at merge time, a part whose guessed start fell inside a quoted field', async () => {
    // The cut between the two parts falls inside a quoted song of many lines that look like
    // rows: the second part starts at a wrong guess, and the merge redoes it from where the
    // first part really ended (the stored part is a blob read in place, not overwritten).
    const rows = (n: number, from: number) =>
      Array.from(
        { length: n },
        (_, i) =>
          `Song ${(i * 7) % 311},2020-01-${String(1 + ((i + from) % 28)).padStart(2, '0')},${i % 9}`,
      )
    const quoted = `"Fake\n${'Song 1,2020-01-01,1000\n'.repeat(20_000)}end",2020-02-02,3`
    const head = `Song,Date,Number of Plays\n${rows(60_000, 0).join('\n')}\n`
    const tail = `\n${rows(60_000 - quoted.length / 30, 5).join('\n')}\n`
    const file = Buffer.from(head + quoted + tail)
    const middle = 26 + (file.length - 26) / 2
    expect(head.length).toBeLessThan(middle)
    expect(head.length + quoted.length).toBeGreaterThan(middle)
    const api = await deployment(2)
    const job = await submit(api, file, {})
    const done = await finished(api, job.id)
    expect(done.status).toBe('succeeded')
    expect(splits).toEqual([{ jobId: job.id, parts: 2 }])
    const expected = await oneRun(file, {})
    expect(
      (await readAll(await storage.get(done.result!.outputKey))).equals(expected.output!),
    ).toBe(true)
    expect(await storedParts()).toEqual([])
  }, 90_000)

  // A part is moved into a local store by a rename; across filesystems (work directories on
  // tmpfs here, the store on disk) the rename fails with EXDEV and the part is copied instead.
  const tmpfs = '/dev/shm'
  const otherFilesystem = existsSync(tmpfs) && statSync(tmpfs).dev !== statSync(tmpdir()).dev
  it.skipIf(!otherFilesystem)(
    'stores the parts when the work directories are on another filesystem than the store',
    async () => {
      const work = await mkdtemp(join(tmpfs, 'tally-split-'))
      try {
        const api = await deployment(2, work)
        const job = await submit(api, big, {})
        const done = await finished(api, job.id)
        expect(done.status).toBe('succeeded')
        expect(splits).toEqual([{ jobId: job.id, parts: 2 }])
        const expected = await oneRun(big, {})
        const output = await readAll(await storage.get(done.result!.outputKey))
        expect(output.equals(expected.output!)).toBe(true)
      } finally {
        await rm(work, { recursive: true, force: true })
      }
    },
    90_000,
  )

  it('fails with the error and line of one run when a row is bad (on_error=fail)', async () => {
    const rows = big.toString('latin1').split('\n')
    // A bad date in the second half, on a line of its own.
    const at = Math.floor(rows.length * 0.75)
    rows.splice(at, 0, 'x,bad,2020-13-01,1')
    const bad = Buffer.from(rows.join('\n'), 'latin1')
    const expected = await oneRun(bad, { onError: 'fail' })
    expect(expected.error?.code).toBeDefined()
    const api = await deployment(2)
    const job = await submit(api, bad, { onError: 'fail' })
    const done = await finished(api, job.id)
    expect(splits.map((s) => s.jobId)).toEqual([job.id])
    expect(done.status).toBe('failed')
    expect(done.error).toMatchObject({
      code: expected.error!.code,
      line: expected.error!.line,
      message: expected.error!.message,
    })
    // Deleted right after the job is marked failed.
    await expect.poll(storedParts, { timeout: 10_000 }).toEqual([])
  }, 90_000)

  it('does not split a file at or under the threshold, or with one worker', async () => {
    const api = await deployment(1)
    const job = await submit(api, big, {})
    expect((await finished(api, job.id)).status).toBe('succeeded')
    expect(splits).toEqual([])
  }, 90_000)

  it('cancels every part of a split job', async () => {
    const api = await deployment(2)
    const job = await submit(api, largeCsv(9, 24 * SLICE_BYTES), {})
    await expect
      .poll(async () => (await api.get(job.id))?.progress?.bytesDone ?? 0, { timeout: 30_000 })
      .toBeGreaterThan(0)
    expect(splits.map((s) => s.jobId)).toEqual([job.id])
    await api.cancel(job.id)
    expect((await finished(api, job.id)).status).toBe('canceled')
    // The parts stop and their blobs go.
    await expect.poll(storedParts, { timeout: 10_000 }).toEqual([])
    await expect
      .poll(
        () =>
          storage.stat(job.input.key).then(
            () => 'kept',
            () => 'gone',
          ),
        {
          timeout: 10_000,
        },
      )
      .toBe('gone')
  }, 90_000)
})
