import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LocalJobBackend } from '../../src/jobs/local/local-job-backend.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import { describeJobBackendContract } from '../contracts/job-backend.js'
import { ScriptedRunner } from '../contracts/scripted-runner.js'

describeJobBackendContract('local (SQLite)', async (settings) => {
  const dir = await mkdtemp(join(tmpdir(), 'tally-local-backend-'))
  return {
    backend: new LocalJobBackend({ path: join(dir, 'db', 'jobs.sqlite'), ...settings }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

describe('LocalJobBackend', () => {
  let dir: string
  let storage: Storage
  let path: string
  const open: LocalJobBackend[] = []

  function backend(extra: { maxAttempts?: number; resultTtlSeconds?: number } = {}) {
    const b = new LocalJobBackend({
      path,
      storage,
      concurrency: 1,
      queueLimit: 100,
      resultTtlSeconds: 60,
      ...extra,
    })
    open.push(b)
    return b
  }

  async function upload(name: string): Promise<{ key: string; fileName: string; bytes: number }> {
    const key = `uploads/${name}`
    const { bytes } = await storage.put(
      key,
      (async function* () {
        yield Buffer.from('Song,Date,Number of Plays\n')
      })(),
    )
    return { key, fileName: `${name}.csv`, bytes }
  }

  /** What a process killed with SIGKILL leaves: a job marked running that nobody runs. */
  function markRunning(id: string, attempts: number): void {
    const db = new BetterSqlite3(path)
    db.prepare(`UPDATE jobs SET status = 'running', attempts = ?, started_at = ? WHERE id = ?`).run(
      attempts,
      new Date().toISOString(),
      id,
    )
    db.close()
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-local-'))
    storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
    await storage.init()
    path = join(dir, 'jobs.sqlite')
  })

  afterEach(async () => {
    for (const b of open.splice(0)) await b.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('does no I/O in its constructor', async () => {
    backend()
    await expect(storage.stat('x')).rejects.toMatchObject({ code: 'E_BLOB_NOT_FOUND' })
    const { existsSync } = await import('node:fs')
    expect(existsSync(path)).toBe(false)
  })

  it('keeps jobs across a restart', async () => {
    const first = backend()
    await first.init()
    const job = await first.submit({ input: await upload('a') })
    await first.close()
    const second = backend()
    await second.init()
    expect(await second.get(job.id)).toEqual(job)
  })

  it('queues again, after a restart, a job a dead process left running, and runs it', async () => {
    const first = backend()
    await first.init()
    const job = await first.submit({ input: await upload('a') })
    await first.close()
    markRunning(job.id, 1)

    const second = backend()
    await second.init()
    expect(await second.get(job.id)).toMatchObject({
      status: 'queued',
      attempts: 1,
      startedAt: null,
    })
    const runner = new ScriptedRunner(storage)
    await second.start(runner)
    await runner.waitUntilRunning(job.id)
    await runner.succeed(job.id)
    await expect.poll(async () => (await second.get(job.id))?.status).toBe('succeeded')
    expect((await second.get(job.id))!.attempts).toBe(2)
  })

  it('fails, after a restart, a job interrupted as often as it may be tried', async () => {
    const first = backend({ maxAttempts: 2 })
    await first.init()
    const job = await first.submit({ input: await upload('a') })
    await first.close()
    markRunning(job.id, 2)
    const second = backend({ maxAttempts: 2 })
    await second.init()
    expect(await second.get(job.id)).toMatchObject({
      status: 'failed',
      error: { code: 'INTERNAL', message: expect.stringContaining('interrupted 2 times') },
    })
  })

  it('refuses a second process on the same database', async () => {
    const first = backend()
    await first.init()
    await expect(backend().init()).rejects.toThrow(/in use by another tally process/)
  })

  it('expires finished jobs after the retention period, deleting their files', async () => {
    const b = backend({ resultTtlSeconds: 60 })
    await b.init()
    const runner = new ScriptedRunner(storage)
    const job = await b.submit({ input: await upload('a') })
    const queued = await b.submit({ input: await upload('b') })
    await b.start(runner)
    await runner.waitUntilRunning(job.id)
    await runner.succeed(job.id)
    await expect.poll(async () => (await b.get(job.id))?.status).toBe('succeeded')
    await b.stop()
    const done = (await b.get(job.id))!
    const finishedMs = Date.parse(done.finishedAt!)

    expect(await b.sweepExpired(new Date(finishedMs + 59_000))).toBe(0)
    await expect(storage.stat(done.result!.outputKey)).resolves.toBeDefined()

    const now = new Date(finishedMs + 61_000)
    expect(await b.sweepExpired(now)).toBe(1)
    expect((await b.get(job.id))!.expiredAt).toBe(now.toISOString())
    await expect(storage.stat(done.result!.outputKey)).rejects.toMatchObject({
      code: 'E_BLOB_NOT_FOUND',
    })
    await expect(storage.stat(done.result!.rejectsKey!)).rejects.toMatchObject({
      code: 'E_BLOB_NOT_FOUND',
    })
    expect(await b.sweepExpired(new Date(finishedMs + 3_600_000))).toBe(0)
    expect((await b.get(queued.id))!.expiredAt).toBeNull()
  })

  it('uses a database handed to it, and says when it was not initialised', async () => {
    const db = new BetterSqlite3(':memory:')
    const b = new LocalJobBackend({
      database: db,
      storage,
      concurrency: 1,
      queueLimit: 5,
      resultTtlSeconds: 1,
    })
    await expect(b.get('job_x')).rejects.toThrow(/init\(\)/)
    await b.init()
    await b.submit({ input: await upload('a') })
    expect((await b.counts()).queued).toBe(1)
    await b.close()
    expect(db.open).toBe(false)
  })
})
