/**
 * The JobBackend contract: every adapter (local on SQLite, bullmq on Redis) must pass it.
 * `makeBackend` returns a fresh, un-initialised backend over an empty job store, wired to the
 * given storage and settings; the suite calls `init()` and `close()`. Runs use `ScriptedRunner`,
 * so the test decides when and how each job ends.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ALL_JOBS, type JobBackend, type JobEvent } from '../../src/jobs/backend.js'
import { canTransition, type Job, type JobStatus } from '../../src/jobs/job.js'
import { isJobError, type JobErrorCode } from '../../src/jobs/job-error.js'
import { JobFailure } from '../../src/jobs/job-failure.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import { ScriptedRunner, until } from './scripted-runner.js'

export interface BackendSettings {
  storage: Storage
  concurrency: number
  queueLimit: number
  resultTtlSeconds: number
  maxAttempts: number
  retryBaseMs: number
  progressIntervalMs: number
}

export interface JobBackendFixture {
  backend: JobBackend
  cleanup?: () => Promise<void>
}

export type MakeBackend = (settings: BackendSettings) => Promise<JobBackendFixture>

const DEFAULTS = {
  concurrency: 1,
  queueLimit: 100,
  resultTtlSeconds: 3600,
  maxAttempts: 3,
  retryBaseMs: 20,
  progressIntervalMs: 50,
}

export async function expectJobError(promise: Promise<unknown>, code: JobErrorCode) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isJobError(error, code), `expected ${code}, got ${String(error)}`).toBe(true)
}

export function describeJobBackendContract(name: string, makeBackend: MakeBackend): void {
  describe(`JobBackend contract: ${name}`, () => {
    let dir: string
    let storage: Storage
    let backend: JobBackend
    let cleanup: (() => Promise<void>) | undefined
    let runner: ScriptedRunner
    let uploads = 0

    async function open(settings: Partial<typeof DEFAULTS> = {}) {
      const fixture = await makeBackend({ storage, ...DEFAULTS, ...settings })
      backend = fixture.backend
      cleanup = fixture.cleanup
      await backend.init()
    }

    /** Stores an upload and submits it. */
    async function submit(extra: { owner?: string | null; options?: object } = {}): Promise<Job> {
      const key = `uploads/test-${++uploads}.csv`
      await storage.put(
        key,
        (async function* () {
          yield Buffer.from('Song,Date,Number of Plays\nx,2020-01-01,1\n')
        })(),
      )
      return backend.submit({ input: { key, fileName: 'plays.csv', bytes: 41 }, ...extra })
    }

    async function statusOf(id: string): Promise<JobStatus | undefined> {
      return (await backend.get(id))?.status
    }

    async function waitFor(id: string, status: JobStatus, timeoutMs = 5000): Promise<Job> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const job = await backend.get(id)
        if (job?.status === status) return job
        if (Date.now() > deadline) throw new Error(`job ${id} is ${job?.status}, not ${status}`)
        await new Promise((r) => setTimeout(r, 5))
      }
    }

    async function exists(key: string): Promise<boolean> {
      return storage.stat(key).then(
        () => true,
        () => false,
      )
    }

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tally-backend-contract-'))
      storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
      await storage.init()
      runner = new ScriptedRunner(storage)
    })

    afterEach(async () => {
      await backend?.close()
      await cleanup?.()
      await rm(dir, { recursive: true, force: true })
    })

    it('submits a queued job with default options and gets it back', async () => {
      await open()
      const job = await submit({ owner: 'key1' })
      expect(job).toMatchObject({
        status: 'queued',
        owner: 'key1',
        attempts: 0,
        startedAt: null,
        finishedAt: null,
        expiredAt: null,
        progress: null,
        result: null,
        error: null,
        input: { fileName: 'plays.csv', bytes: 41 },
        options: {
          order: 'first_seen',
          onError: 'skip',
          groupBy: ['Song', 'Date'],
          sum: 'Number of Plays',
        },
      })
      expect(job.id).toMatch(/^job_[a-z2-7]{24}$/)
      expect(Date.parse(job.createdAt)).toBeGreaterThan(Date.now() - 10_000)
      expect(await backend.get(job.id)).toEqual(job)
      expect(await backend.get('job_aaaaaaaaaaaaaaaaaaaaaaaa')).toBeUndefined()
      expect(await backend.get('../etc/passwd')).toBeUndefined()
    })

    it('refuses options the engine would refuse, queueing nothing', async () => {
      await open()
      await expect(submit({ options: { order: 'random' } })).rejects.toMatchObject({
        code: 'INVALID_OPTION_ORDER',
      })
      await expect(submit({ options: { groupBy: [] } })).rejects.toMatchObject({
        code: 'INVALID_OPTION_GROUP_BY',
      })
      expect((await backend.list()).jobs).toEqual([])
    })

    it('takes a pre-made id once', async () => {
      await open()
      const id = 'job_abcdefghijklmnopqrstuvwx'
      const input = { key: 'uploads/x', fileName: 'x.csv', bytes: 1 }
      expect((await backend.submit({ id, input })).id).toBe(id)
      await expectJobError(backend.submit({ id, input }), 'JOB_ID_TAKEN')
    })

    it('refuses submissions beyond the queue limit', async () => {
      await open({ queueLimit: 2 })
      await submit()
      await submit()
      await expectJobError(submit(), 'QUEUE_FULL')
      expect((await backend.counts()).queued).toBe(2)
    })

    it('lists newest first, page by page, with an opaque cursor', async () => {
      await open()
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push((await submit()).id)
      const newestFirst = [...ids].reverse()
      const first = await backend.list({ limit: 2 })
      expect(first.jobs.map((j) => j.id)).toEqual(newestFirst.slice(0, 2))
      expect(first.nextCursor).toEqual(expect.any(String))
      const second = await backend.list({ limit: 2, cursor: first.nextCursor! })
      expect(second.jobs.map((j) => j.id)).toEqual(newestFirst.slice(2, 4))
      const third = await backend.list({ limit: 2, cursor: second.nextCursor! })
      expect(third.jobs.map((j) => j.id)).toEqual(newestFirst.slice(4))
      expect(third.nextCursor).toBeNull()
      expect((await backend.list()).jobs.map((j) => j.id)).toEqual(newestFirst)
      await expectJobError(backend.list({ cursor: 'not-a-cursor' }), 'INVALID_CURSOR')
    })

    it('filters the list by status and by owner', async () => {
      await open()
      const a = await submit({ owner: 'alice' })
      const b = await submit({ owner: 'bob' })
      const c = await submit({ owner: 'alice' })
      await backend.cancel(b.id)
      const ids = (page: { jobs: Job[] }) => page.jobs.map((j) => j.id)
      expect(ids(await backend.list({ status: 'canceled' }))).toEqual([b.id])
      expect(ids(await backend.list({ status: 'queued' }))).toEqual([c.id, a.id])
      expect(ids(await backend.list({ status: ['queued', 'canceled'] }))).toEqual([
        c.id,
        b.id,
        a.id,
      ])
      expect(ids(await backend.list({ owner: 'alice' }))).toEqual([c.id, a.id])
      expect(ids(await backend.list({ owner: 'bob', status: 'queued' }))).toEqual([])
      expect(ids(await backend.list({ owner: 'carol' }))).toEqual([])
      const page = await backend.list({ owner: 'alice', limit: 1 })
      expect(ids(page)).toEqual([c.id])
      expect(ids(await backend.list({ owner: 'alice', cursor: page.nextCursor! }))).toEqual([a.id])
    })

    it('runs jobs oldest first, emitting status events that follow the transition table', async () => {
      await open()
      const events: JobEvent[] = []
      const unsubscribe = backend.subscribe(ALL_JOBS, (event) => events.push(event))
      const first = await submit()
      const second = await submit()
      await backend.start(runner)
      await runner.waitUntilRunning(first.id)
      expect(runner.running).toEqual([first.id])
      await runner.succeed(first.id)
      await runner.waitUntilRunning(second.id)
      await runner.succeed(second.id)
      const done = await waitFor(second.id, 'succeeded')
      expect(done.attempts).toBe(1)
      expect(done.result).toMatchObject({
        rowsRead: 10,
        groups: 3,
        outputKey: `results/${second.id}.csv`,
      })
      expect(done.progress).toMatchObject({ percent: 100, etaSeconds: 0 })
      expect(Date.parse(done.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(done.startedAt!))
      unsubscribe()
      for (const id of [first.id, second.id]) {
        const statuses = events
          .filter((e) => e.type === 'status' && e.job.id === id)
          .map((e) => e.job.status)
        expect(statuses).toEqual(['queued', 'running', 'succeeded'])
        for (let i = 1; i < statuses.length; i++) {
          expect(canTransition(statuses[i - 1]!, statuses[i]!)).toBe(true)
        }
      }
      expect(runner.started.map((j) => j.id)).toEqual([first.id, second.id])
    })

    it('runs at most `concurrency` jobs at once', async () => {
      await open({ concurrency: 2 })
      const jobs = [await submit(), await submit(), await submit(), await submit()]
      await backend.start(runner)
      await runner.waitUntilRunning(jobs[1]!.id)
      await new Promise((r) => setTimeout(r, 50))
      expect(runner.running).toEqual([jobs[0]!.id, jobs[1]!.id])
      expect((await backend.counts()).running).toBe(2)
      await runner.succeed(jobs[0]!.id)
      await runner.waitUntilRunning(jobs[2]!.id)
      expect(runner.running).toEqual([jobs[1]!.id, jobs[2]!.id])
    })

    it('stores throttled progress and tells subscribers, then the final status', async () => {
      await open({ progressIntervalMs: 50 })
      const job = await submit()
      const events: JobEvent[] = []
      backend.subscribe(job.id, (event) => events.push(event))
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      runner.progress(job.id, { bytesDone: 25, bytesTotal: 100, rows: 5 })
      runner.progress(job.id, { bytesDone: 30, bytesTotal: 100, rows: 6 }) // within the interval
      expect((await backend.get(job.id))!.progress).toMatchObject({
        bytesDone: 25,
        bytesTotal: 100,
        rows: 5,
        percent: 25,
      })
      await new Promise((r) => setTimeout(r, 60))
      runner.progress(job.id, { bytesDone: 50, bytesTotal: 100, rows: 10 })
      await runner.succeed(job.id)
      await waitFor(job.id, 'succeeded')
      expect(events.map((e) => `${e.type}:${e.job.status}`)).toEqual([
        'status:running',
        'progress:running',
        'progress:running',
        'status:succeeded',
      ])
      expect(events.filter((e) => e.type === 'progress').map((e) => e.job.progress!.rows)).toEqual([
        5, 10,
      ])
    })

    it('cancels a queued job: it never runs and its upload is deleted', async () => {
      await open()
      const job = await submit()
      const canceled = await backend.cancel(job.id)
      expect(canceled).toMatchObject({ status: 'canceled' })
      expect(canceled.finishedAt).not.toBeNull()
      expect(await backend.cancel(job.id)).toMatchObject({ status: 'canceled' })
      await backend.start(runner)
      await new Promise((r) => setTimeout(r, 50))
      expect(runner.started).toEqual([])
      expect(await exists(job.input.key)).toBe(false)
    })

    it('cancels a running job: its signal aborts and its slot frees at once', async () => {
      await open()
      const job = await submit()
      const next = await submit()
      const events: JobEvent[] = []
      backend.subscribe(job.id, (event) => events.push(event))
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      const started = Date.now()
      const canceled = await backend.cancel(job.id)
      expect(canceled.status).toBe('canceled')
      expect(runner.signals.get(job.id)!.aborted).toBe(true)
      await runner.waitUntilRunning(next.id, 1000)
      expect(Date.now() - started).toBeLessThan(1000)
      expect(await statusOf(job.id)).toBe('canceled')
      expect(events.at(-1)).toMatchObject({ type: 'status', job: { status: 'canceled' } })
    })

    it('refuses to cancel a finished or unknown job', async () => {
      await open()
      const job = await submit()
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      await runner.succeed(job.id)
      await waitFor(job.id, 'succeeded')
      await expectJobError(backend.cancel(job.id), 'JOB_ALREADY_FINISHED')
      await expectJobError(backend.cancel('job_aaaaaaaaaaaaaaaaaaaaaaaa'), 'JOB_NOT_FOUND')
    })

    it('fails a job at once on a permanent failure, keeping code, line and column', async () => {
      await open()
      const job = await submit()
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      const info = {
        code: 'CSV_BAD_DATE',
        message: 'line 3, column "Date": bad',
        line: 3,
        column: 'Date',
      }
      runner.fail(job.id, new JobFailure(info))
      const failed = await waitFor(job.id, 'failed')
      expect(failed.error).toEqual(info)
      expect(failed.attempts).toBe(1)
      expect(runner.started).toHaveLength(1)
      expect(await exists(job.input.key)).toBe(false)
    })

    it('retries transient failures with backoff, then fails with INTERNAL', async () => {
      await open({ maxAttempts: 2, retryBaseMs: 20 })
      const job = await submit()
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      runner.fail(job.id, new Error('disk hiccup'))
      await until(() => runner.started.length === 2, 5000, 'the retry')
      await runner.waitUntilRunning(job.id)
      expect((await backend.get(job.id))!.attempts).toBe(2)
      runner.fail(job.id, new Error('disk hiccup again'))
      const failed = await waitFor(job.id, 'failed')
      expect(failed.error).toMatchObject({ code: 'INTERNAL', line: null, column: null })
      expect(failed.error!.message).not.toContain('disk hiccup')
    })

    it('succeeds after a transient failure on a later attempt', async () => {
      await open({ maxAttempts: 3, retryBaseMs: 10 })
      const job = await submit()
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      runner.fail(job.id, new Error('storage timeout'))
      await until(() => runner.started.length === 2, 5000, 'the retry')
      await runner.waitUntilRunning(job.id)
      await runner.succeed(job.id)
      expect((await waitFor(job.id, 'succeeded')).attempts).toBe(2)
    })

    it('deletes a finished job with its files, and refuses while it runs', async () => {
      await open()
      const job = await submit()
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      await expectJobError(backend.delete(job.id), 'JOB_NOT_FINISHED')
      await runner.succeed(job.id)
      const done = await waitFor(job.id, 'succeeded')
      expect(await exists(done.result!.outputKey)).toBe(true)
      await backend.delete(job.id)
      expect(await backend.get(job.id)).toBeUndefined()
      expect(await exists(done.result!.outputKey)).toBe(false)
      expect(await exists(done.result!.rejectsKey!)).toBe(false)
      await expectJobError(backend.delete(job.id), 'JOB_NOT_FOUND')
    })

    it('stop without draining requeues running jobs, which run again on the next start', async () => {
      await open()
      const job = await submit()
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      await backend.stop({ drain: false })
      expect(runner.signals.get(job.id)!.aborted).toBe(true)
      expect(await backend.get(job.id)).toMatchObject({ status: 'queued', attempts: 0 })
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      await runner.succeed(job.id)
      expect((await waitFor(job.id, 'succeeded')).attempts).toBe(1)
    })

    it('stop with draining lets running jobs finish and starts no new one', async () => {
      await open()
      const job = await submit()
      const waiting = await submit()
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      const stopped = backend.stop({ drain: true })
      await new Promise((r) => setTimeout(r, 30))
      expect(runner.signals.get(job.id)!.aborted).toBe(false)
      await runner.succeed(job.id)
      await stopped
      expect(await statusOf(job.id)).toBe('succeeded')
      expect(await statusOf(waiting.id)).toBe('queued')
      expect(runner.started).toHaveLength(1)
    })

    it('stop with a grace period requeues what did not finish in time', async () => {
      await open()
      const job = await submit()
      await backend.start(runner)
      await runner.waitUntilRunning(job.id)
      await backend.stop({ drain: true, graceMs: 50 })
      expect(await statusOf(job.id)).toBe('queued')
    })

    it('unsubscribes, counts jobs by status', async () => {
      await open()
      const job = await submit()
      const events: JobEvent[] = []
      const unsubscribe = backend.subscribe(job.id, (event) => events.push(event))
      unsubscribe()
      await backend.cancel(job.id)
      expect(events).toEqual([])
      await submit()
      expect(await backend.counts()).toEqual({
        queued: 1,
        running: 0,
        succeeded: 0,
        failed: 0,
        canceled: 1,
      })
    })
  })
}
