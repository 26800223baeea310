/**
 * Issue #6, faults 2: the storage fails the Nth write or the Nth read (a `FaultyStore` around
 * the real fs store, composed into the real service in place of the configured store).
 * - A failed upload write: the client gets a clear problem+json error (503 E_STORAGE), no job
 *   exists and no file is left; the next upload goes through.
 * - A failed read or write while a job runs is transient: the job is retried and succeeds once,
 *   with the exact output; a store that stays down fails the job with a clear error.
 * - A failed result read during a download: a clear 503 when it fails at once; when it fails
 *   mid-way the client sees the cut (the answer announced its length, or was chunked, and ended
 *   without completing), never a complete-looking 200 with half a file.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { multipart } from '../http/support/service.js'
import { type Answer, json, listAllJobs, send, submitRaw, waitFinal } from './support/client.js'
import { engineOutput, plays } from './support/data.js'
import { type FaultPlan, FaultyStore } from './support/faulty-store.js'
import { filesUnder } from './support/serve-process.js'
import { type StoreService, startWithStore } from './support/service-with-store.js'

let base: string
let input: Buffer
let expected: Buffer
let service: StoreService | undefined

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tally-faults-storage-'))
  input = plays(60_000, 71) // about 1.8 MB
  expected = await engineOutput(input)
})

afterEach(async () => {
  await service?.close()
  service = undefined
})

afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true })
})

let dirs = 0

async function startFaulty(plan: FaultPlan): Promise<{ store: FaultyStore; url: string }> {
  let store: FaultyStore | undefined
  service = await startWithStore({
    dir: join(base, `svc-${++dirs}`),
    store: (dir) => {
      store = new FaultyStore(new FsBlobStore({ root: join(dir, 'files') }), plan)
      return store
    },
  })
  return { store: store!, url: service.url }
}

function expectProblem(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status)
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
  const body = json<{ code: string; status: number; detail: string }>(answer)
  expect(body).toMatchObject({ code, status })
  // Server errors say what happened in words and never show internals.
  expect(body.detail).not.toMatch(/EIO|injected|stack|at .*\.ts/)
}

function filesOf(kind: string): string[] {
  return filesUnder(join(service!.dir, 'files')).filter((path) => path.startsWith(`${kind}/`))
}

async function submitOk(url: string): Promise<string> {
  const answer = await submitRaw(url, input, 'file_name=plays.csv')
  expect(answer.status).toBe(202)
  return json<{ job_id: string }>(answer).job_id
}

async function expectExactResult(url: string, id: string): Promise<void> {
  const result = await send(`${url}/jobs/${id}/result`)
  expect(result.status).toBe(200)
  expect(result.body.equals(expected)).toBe(true)
}

describe('a failed upload write', () => {
  it.each([
    ['before the first byte', 0],
    ['after 256 KiB', 256 * 1024],
  ])('%s: 503 E_STORAGE, no job, no file; the next upload goes through', async (_, afterBytes) => {
    const { store, url } = await startFaulty({
      write: { prefix: 'uploads/', nth: 1, afterBytes },
    })
    expectProblem(await submitRaw(url, input, 'file_name=plays.csv'), 503, 'E_STORAGE')
    expect(store.failed).toEqual([expect.stringMatching(/^write uploads\/job_/)])
    expect(await listAllJobs(url)).toEqual([])
    expect(filesUnder(join(service!.dir, 'files'))).toEqual([])

    const id = await submitOk(url)
    expect((await waitFinal(url, id)).status).toBe('succeeded')
    await expectExactResult(url, id)
    expect((await listAllJobs(url)).map((job) => job.job_id)).toEqual([id])
  })

  it('in a multipart upload: the same clear 503, no job, no file', async () => {
    const { url } = await startFaulty({
      write: { prefix: 'uploads/', nth: 1, afterBytes: 100_000 },
    })
    const form = multipart({ order: 'sorted' }, [
      { field: 'file', name: 'plays.csv', content: input },
    ])
    const answer = await send(`${url}/jobs`, {
      method: 'POST',
      headers: form.headers,
      body: form.payload,
    })
    expectProblem(answer, 503, 'E_STORAGE')
    expect(await listAllJobs(url)).toEqual([])
    expect(filesUnder(join(service!.dir, 'files'))).toEqual([])
  })
})

describe('a failed read or write while a job runs', () => {
  it.each([
    ['the upload read fails at once', { read: { prefix: 'uploads/', nth: 1 } }],
    [
      'the upload read fails after 100 KB',
      { read: { prefix: 'uploads/', nth: 1, afterBytes: 100_000 } },
    ],
    ['the result write fails at once', { write: { prefix: 'results/', nth: 1 } }],
    [
      'the result write fails after 64 KiB',
      { write: { prefix: 'results/', nth: 1, afterBytes: 65_536 } },
    ],
    ['the rejects write fails', { write: { prefix: 'rejects/', nth: 1 } }],
  ] satisfies [string, FaultPlan][])(
    '%s: retried, then succeeds once with the exact output',
    async (_, plan) => {
      const { store, url } = await startFaulty(plan)
      const id = await submitOk(url)
      const job = await waitFinal(url, id)
      expect(job.status).toBe('succeeded')
      expect(store.failed).toHaveLength(1)
      await expectExactResult(url, id)
      // One job, one result; the retried attempt left nothing behind.
      expect((await listAllJobs(url)).map((view) => view.job_id)).toEqual([id])
      expect(filesOf('results')).toEqual([`results/${id}.csv`])
      expect(filesOf('uploads')).toEqual([])
      expect(filesUnder(service!.dir).filter((path) => path.endsWith('.partial'))).toEqual([])
      expect(filesUnder(join(service!.dir, 'tmp'))).toEqual([])
    },
  )

  it('a store that stays down: the job fails with a clear error after its attempts', async () => {
    const { store, url } = await startFaulty({ read: { prefix: 'uploads/', nth: 'every' } })
    const id = await submitOk(url)
    const job = await waitFinal(url, id)
    expect(job.status).toBe('failed')
    expect(job.error).toMatchObject({ code: 'INTERNAL' })
    expect(store.failed).toHaveLength(service!.config.maxAttempts)
    expectProblem(await send(`${url}/jobs/${id}/result`), 409, 'JOB_FAILED')
    expect(filesOf('results')).toEqual([])
  })
})

describe('a failed result read during a download', () => {
  async function finishedJob(
    plan: FaultPlan,
  ): Promise<{ store: FaultyStore; url: string; id: string }> {
    const { store, url } = await startFaulty({})
    const id = await submitOk(url)
    expect((await waitFinal(url, id)).status).toBe('succeeded')
    store.setPlan(plan)
    return { store, url, id }
  }

  it('failing at once: 503 E_STORAGE, and the next download is whole', async () => {
    const { url, id } = await finishedJob({ read: { prefix: 'results/', nth: 1 } })
    expectProblem(await send(`${url}/jobs/${id}/result`), 503, 'E_STORAGE')
    await expectExactResult(url, id)
  })

  it.each([
    ['plain', {}],
    ['gzip', { 'accept-encoding': 'gzip' }],
  ])(
    'failing mid-way (%s): the client sees an incomplete answer, never a whole-looking 200',
    async (_, headers: Record<string, string>) => {
      const { url, id } = await finishedJob({
        read: { prefix: 'results/', nth: 1, afterBytes: 300_000 },
      })
      const cut = await rawDownload(`${url}/jobs/${id}/result`, headers)
      expect(cut.status).toBe(200)
      expect(cut.complete).toBe(false)
      if (!headers['accept-encoding']) {
        expect(cut.contentLength).toBe(expected.byteLength)
        expect(cut.body.byteLength).toBeLessThan(expected.byteLength)
        expect(cut.body.equals(expected.subarray(0, cut.body.byteLength))).toBe(true)
      }
      // The next download, plain or gzip, is whole and exact.
      const again = await send(`${url}/jobs/${id}/result`, { headers })
      expect(again.status).toBe(200)
      const body = headers['accept-encoding'] ? gunzipSync(again.body) : again.body
      expect(body.equals(expected)).toBe(true)
    },
  )
})

interface RawDownload {
  status: number
  contentLength: number | undefined
  body: Buffer
  /** Whether the HTTP message ended properly (all of Content-Length, or the last chunk). */
  complete: boolean
}

/** A GET that reports a cut answer instead of rejecting, with what arrived. */
function rawDownload(url: string, headers: Record<string, string>): Promise<RawDownload> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      const done = () =>
        resolve({
          status: res.statusCode ?? 0,
          contentLength:
            res.headers['content-length'] === undefined
              ? undefined
              : Number(res.headers['content-length']),
          body: Buffer.concat(chunks),
          complete: res.complete,
        })
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('end', done)
      res.once('error', done)
      res.once('aborted', done)
      res.once('close', done)
    })
    req.once('error', reject)
    req.end()
  })
}
