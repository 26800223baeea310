/**
 * The runner end to end on real parts: the fs store, the embedded backend on SQLite and the real
 * engine (worker threads included).
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createJobId, type Job, type JobOptions, type JobStatus } from '../../src/jobs/job.js'
import { LocalJobBackend } from '../../src/jobs/local/local-job-backend.js'
import { EngineJobRunner } from '../../src/jobs/runner.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import type { BlobStore } from '../../src/storage/types.js'
import { chunks, readAll } from '../contracts/blob-store.js'

const DESIGN_INPUT = `Song,Date,Number of Plays
Umbrella,2020-01-02,200
Umbrella,2020-01-01,100
In The End,2020-01-01,500
Umbrella,2020-01-01,50
In The End,2020-01-01,1000
Umbrella,2020-01-02,50
In The End,2020-01-02,500
`

const DESIGN_OUTPUT = `Song,Date,Total Number of Plays for Date
Umbrella,2020-01-02,250
Umbrella,2020-01-01,150
In The End,2020-01-01,1500
In The End,2020-01-02,500
`

describe.each([
  ['a local store (engine reads and writes in place)', true],
  ['a remote-like store (download, then upload)', false],
])('EngineJobRunner with %s', (_name, local) => {
  let dir: string
  let storage: Storage
  let backend: LocalJobBackend
  let uploads = 0

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-runner-'))
    const fs = new FsBlobStore({ root: join(dir, 'files') })
    storage = new Storage(local ? fs : withoutLocalPath(fs))
    await storage.init()
    const runner = new EngineJobRunner({
      storage,
      threads: 2,
      memoryMb: 64,
      tempDir: join(dir, 'tmp'),
    })
    await runner.init()
    backend = new LocalJobBackend({
      path: join(dir, 'jobs.sqlite'),
      storage,
      concurrency: 1,
      queueLimit: 100,
      resultTtlSeconds: 3600,
      retryBaseMs: 10,
    })
    await backend.init()
    await backend.start(runner)
  })

  afterEach(async () => {
    await backend.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function submit(content: string | Buffer, options: Partial<JobOptions> = {}): Promise<Job> {
    const key = `uploads/u${++uploads}`
    const data = typeof content === 'string' ? Buffer.from(content) : content
    const { bytes } = await storage.put(
      key,
      (async function* () {
        yield data
      })(),
    )
    return backend.submit({ input: { key, fileName: 'plays.csv', bytes }, options })
  }

  async function finished(id: string, timeoutMs = 20_000): Promise<Job> {
    const final: JobStatus[] = ['succeeded', 'failed', 'canceled']
    await expect
      .poll(async () => (await backend.get(id))?.status, { timeout: timeoutMs, interval: 10 })
      .toSatisfy((status: JobStatus | undefined) => status !== undefined && final.includes(status))
    return (await backend.get(id))!
  }

  async function blobText(key: string): Promise<string> {
    return (await readAll(await storage.get(key))).toString('utf8')
  }

  it("produces DESIGN.md's example output exactly", async () => {
    const job = await finished((await submit(DESIGN_INPUT)).id)
    expect(job.status).toBe('succeeded')
    expect(await blobText(job.result!.outputKey)).toBe(DESIGN_OUTPUT)
    expect(job.result).toMatchObject({
      rowsRead: 7,
      rowsRejected: 0,
      groups: 4,
      outputBytes: Buffer.byteLength(DESIGN_OUTPUT),
      outputKey: `results/${job.id}.csv`,
      rejectsKey: `rejects/${job.id}.csv`,
    })
    expect(job.progress).toMatchObject({ percent: 100, phase: 'done' })
    await expect(storage.stat(job.input.key)).rejects.toMatchObject({ code: 'E_BLOB_NOT_FOUND' })
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('honours order, group_by and sum, and reads gzip uploads', async () => {
    const sorted = await finished((await submit(DESIGN_INPUT, { order: 'sorted' })).id)
    expect(await blobText(sorted.result!.outputKey)).toBe(
      'Song,Date,Total Number of Plays for Date\nIn The End,2020-01-01,1500\nIn The End,2020-01-02,500\nUmbrella,2020-01-01,150\nUmbrella,2020-01-02,250\n',
    )
    const bySong = await finished((await submit(DESIGN_INPUT, { groupBy: ['Song'] })).id)
    expect(await blobText(bySong.result!.outputKey)).toBe(
      'Song,Total Number of Plays\nUmbrella,400\nIn The End,2000\n',
    )
    const gzip = await finished((await submit(gzipSync(DESIGN_INPUT))).id)
    expect(await blobText(gzip.result!.outputKey)).toBe(DESIGN_OUTPUT)
  })

  it('skips bad rows into the rejects file and says how many', async () => {
    const input = `${DESIGN_INPUT}Umbrella,2020-02-30,5\n`
    const job = await finished((await submit(input)).id)
    expect(job.status).toBe('succeeded')
    expect(job.result).toMatchObject({ rowsRead: 8, rowsRejected: 1, groups: 4 })
    expect(await blobText(job.result!.outputKey)).toBe(DESIGN_OUTPUT)
    const rejects = await blobText(job.result!.rejectsKey!)
    expect(rejects).toContain('9')
    expect(rejects).toContain('Umbrella,2020-02-30,5')
  })

  it('fails a bad file at once with the engine code, line and column', async () => {
    const input = 'Song,Date,Number of Plays\nUmbrella,2020-01-01,1\nUmbrella,2020-13-01,2\n'
    const job = await finished((await submit(input, { onError: 'fail' })).id)
    expect(job.status).toBe('failed')
    expect(job.attempts).toBe(1)
    expect(job.error).toMatchObject({ code: 'CSV_BAD_DATE', line: 3, column: 'Date' })
    expect(job.error!.message).toContain('line 3')
    expect(job.result).toBeNull()
    await expect(storage.stat(`results/${job.id}.csv`)).rejects.toMatchObject({
      code: 'E_BLOB_NOT_FOUND',
    })
  })

  it('fails a file without the required columns, and one whose every row is bad', async () => {
    const missing = await finished((await submit('Song,Plays\nx,1\n')).id)
    expect(missing.error).toMatchObject({ code: 'CSV_MISSING_COLUMNS' })
    const allBad = await finished((await submit('Song,Date,Number of Plays\nx,notadate,1\n')).id)
    expect(allBad.status).toBe('failed')
    expect(allBad.error).toMatchObject({ code: 'CSV_NO_VALID_ROWS', line: 2 })
  })

  it.runIf(local)('removes the half-written result an attempt killed mid-write left', async () => {
    const id = createJobId()
    const results = join(dir, 'files', 'results')
    await mkdir(results, { recursive: true })
    const stale = [`${id}.csv.tally-0123456789ab.partial`, `${id}.csv.tally-ba9876543210.partial`]
    for (const name of stale) await writeFile(join(results, name), 'Song,Da')
    const other = 'job_other.csv.tally-0123456789ab.partial'
    await writeFile(join(results, other), 'x')
    const { bytes } = await storage.put(`uploads/${id}`, chunks(DESIGN_INPUT))
    const job = await backend.submit({
      id,
      input: { key: `uploads/${id}`, fileName: 'a.csv', bytes },
    })
    expect((await finished(job.id)).status).toBe('succeeded')
    expect((await readdir(results)).sort()).toEqual([`${id}.csv`, other].sort())
  })

  it('fails without retrying when the upload is gone', async () => {
    await backend.stop()
    const job = await submit(DESIGN_INPUT)
    await storage.delete(job.input.key)
    await backend.start(
      new EngineJobRunner({ storage, threads: 1, memoryMb: 64, tempDir: join(dir, 'tmp') }),
    )
    const failed = await finished(job.id)
    expect(failed).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'JOB_INPUT_MISSING' },
    })
  })

  it('cancels a big job within a second and frees its slot', async () => {
    const big = await submitGenerated(40 * 1024 * 1024)
    const small = await submit(DESIGN_INPUT)
    let resolveProgress!: () => void
    const progressed = new Promise<void>((resolve) => {
      resolveProgress = resolve
    })
    backend.subscribe(big.id, (event) => {
      if (event.type === 'progress') resolveProgress()
    })
    await progressed
    const started = Date.now()
    expect((await backend.cancel(big.id)).status).toBe('canceled')
    await expect
      .poll(async () => (await backend.get(small.id))?.status, { timeout: 1000, interval: 5 })
      .not.toBe('queued')
    expect(Date.now() - started).toBeLessThan(1000)
    expect((await finished(small.id)).status).toBe('succeeded')
    expect((await backend.get(big.id))!.status).toBe('canceled')
    await expect(storage.stat(`results/${big.id}.csv`)).rejects.toMatchObject({
      code: 'E_BLOB_NOT_FOUND',
    })
  })

  /** A CSV of about `bytes` bytes: many songs and days, so the engine has real work. */
  async function submitGenerated(bytes: number): Promise<Job> {
    const key = `uploads/big${++uploads}`
    const rows = (async function* () {
      yield Buffer.from('Song,Date,Number of Plays\n')
      let written = 0
      let i = 0
      while (written < bytes) {
        let block = ''
        for (let n = 0; n < 5000; n++, i++) {
          block += `Song number ${i % 50_000},2020-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')},${i % 997}\n`
        }
        written += block.length
        yield Buffer.from(block)
      }
    })()
    const stored = await storage.put(key, rows)
    return backend.submit({ input: { key, fileName: 'big.csv', bytes: stored.bytes } })
  }
})

describe('EngineJobRunner around storage failures', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-runner-faults-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('retries a job whose result upload failed, and then succeeds', async () => {
    const fs = new FsBlobStore({ root: join(dir, 'files') })
    let resultPuts = 0
    const flaky: BlobStore = {
      ...withoutLocalPath(fs),
      put: async (key, source, options) => {
        if (key.startsWith('results/') && ++resultPuts === 1) {
          for await (const _ of source) break
          throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })
        }
        return fs.put(key, source, options)
      },
    }
    const storage = new Storage(flaky)
    await storage.init()
    const backend = new LocalJobBackend({
      path: join(dir, 'jobs.sqlite'),
      storage,
      concurrency: 1,
      queueLimit: 10,
      resultTtlSeconds: 60,
      retryBaseMs: 10,
    })
    await backend.init()
    try {
      await backend.start(
        new EngineJobRunner({ storage, threads: 1, memoryMb: 64, tempDir: join(dir, 'tmp') }),
      )
      const { bytes } = await storage.put(
        'uploads/in',
        (async function* () {
          yield Buffer.from(DESIGN_INPUT)
        })(),
      )
      const job = await backend.submit({ input: { key: 'uploads/in', fileName: 'in.csv', bytes } })
      await expect
        .poll(async () => (await backend.get(job.id))?.status, { timeout: 10_000 })
        .toBe('succeeded')
      expect((await backend.get(job.id))!.attempts).toBe(2)
      expect((await readAll(await storage.get(`results/${job.id}.csv`))).toString()).toBe(
        DESIGN_OUTPUT,
      )
    } finally {
      await backend.close()
    }
  })

  it('init removes work directories a dead process left, and nothing else', async () => {
    const tempDir = join(dir, 'tmp')
    await mkdir(join(tempDir, 'job_abcdefghijklmnopqrstuvwx'), { recursive: true })
    await writeFile(join(tempDir, 'job_abcdefghijklmnopqrstuvwx', 'input'), 'x')
    await writeFile(join(tempDir, 'keep.txt'), 'x')
    const storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
    await new EngineJobRunner({ storage, threads: 1, memoryMb: 64, tempDir }).init()
    expect(await readdir(tempDir)).toEqual(['keep.txt'])
  })
})

/** The fs store seen as a remote one: same blobs, no `localPath`. */
function withoutLocalPath(store: FsBlobStore): BlobStore {
  return {
    init: () => store.init(),
    close: () => store.close(),
    put: (key, source, options) => store.put(key, source, options),
    get: (key, range) => store.get(key, range),
    stat: (key) => store.stat(key),
    delete: (key) => store.delete(key),
    list: (prefix) => store.list(prefix),
  }
}
