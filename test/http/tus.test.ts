/**
 * tus uploads over real HTTP on 127.0.0.1: an upload cut off halfway resumes from the offset the
 * server reports and its job's output is the engine's own; unknown, unfinished and other keys'
 * uploads are refused; expired unfinished uploads are removed.
 */
import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  engineOutput,
  PLAYS_CSV,
  songPlays,
  startService,
  type TestService,
} from './support/service.js'

const TUS = { 'tus-resumable': '1.0.0' }

/** The fields of job views and problems these tests read. */
interface Answer {
  job_id: string
  status: string
  code: string
}

async function json(response: Response): Promise<Answer> {
  return (await response.json()) as Answer
}

async function createUpload(
  url: string,
  size: number,
  headers: Record<string, string> = {},
  fileName = 'plays.csv',
): Promise<string> {
  const response = await fetch(`${url}/uploads`, {
    method: 'POST',
    headers: {
      ...TUS,
      ...headers,
      'upload-length': String(size),
      'upload-metadata': `filename ${Buffer.from(fileName).toString('base64')}`,
    },
  })
  expect(response.status, await response.clone().text()).toBe(201)
  const location = response.headers.get('location') ?? ''
  return location.split('/').pop() ?? ''
}

async function patch(
  url: string,
  id: string,
  offset: number,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${url}/uploads/${id}`, {
    method: 'PATCH',
    headers: {
      ...TUS,
      ...headers,
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
    },
    body,
  })
}

/** Sends `part` of a PATCH announcing `total` bytes, then drops the connection. */
function patchCutOff(url: string, id: string, part: Buffer, total: number): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/uploads/${id}`, {
      method: 'PATCH',
      headers: {
        ...TUS,
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'content-length': String(total),
      },
    })
    req.on('error', () => resolve())
    req.write(part, () => setTimeout(() => req.destroy(), 200))
    req.on('close', () => resolve())
  })
}

async function headOffset(url: string, id: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/uploads/${id}`, {
    method: 'HEAD',
    headers: { ...TUS, ...headers },
  })
  return { status: response.status, offset: Number(response.headers.get('upload-offset')) }
}

async function startJob(url: string, body: object, headers: Record<string, string> = {}) {
  return fetch(`${url}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

async function waitDone(url: string, id: string, headers: Record<string, string> = {}) {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const view = await json(await fetch(`${url}/jobs/${id}`, { headers }))
    if (['succeeded', 'failed', 'canceled'].includes(view.status)) return view
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`job ${id} did not finish`)
}

describe('tus uploads', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({ listen: true })
  })
  afterAll(async () => t?.close())

  it('resumes an upload cut off halfway, and its job output is exact', async () => {
    const csv = songPlays(40_000, 7)
    const id = await createUpload(t.url, csv.length)
    await patchCutOff(t.url, id, csv.subarray(0, csv.length >> 1), csv.length)

    // The server keeps what arrived; wait until the cut request is let go (its lock released).
    let offset = 0
    for (let tries = 0; tries < 50; tries++) {
      const head = await headOffset(t.url, id)
      expect(head.status).toBe(200)
      offset = head.offset
      const rest = await patch(t.url, id, offset, csv.subarray(offset))
      if (rest.status === 204) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(offset).toBeGreaterThan(0)
    expect(offset).toBeLessThan(csv.length)
    expect((await headOffset(t.url, id)).offset).toBe(csv.length)

    const response = await startJob(t.url, { upload_id: id, order: 'first_seen' })
    expect(response.status, await response.clone().text()).toBe(202)
    const job = await json(response)
    const view = await waitDone(t.url, job.job_id)
    expect(view.status).toBe('succeeded')
    const result = Buffer.from(
      await (await fetch(`${t.url}/jobs/${job.job_id}/result`)).arrayBuffer(),
    )
    expect(result.equals(await engineOutput(csv, { order: 'first_seen' }))).toBe(true)

    // One upload, one job: the upload is gone.
    expect((await startJob(t.url, { upload_id: id })).status).toBe(404)
  })

  it('answers 404 for an unknown upload and 409 for an unfinished one', async () => {
    const unknown = await startJob(t.url, { upload_id: 'no-such-upload' })
    expect(unknown.status).toBe(404)
    expect((await json(unknown)).code).toBe('UPLOAD_NOT_FOUND')
    expect((await headOffset(t.url, 'ffffffffffffffffffffffffffffffff')).status).toBe(404)

    const id = await createUpload(t.url, 100)
    const unfinished = await startJob(t.url, { upload_id: id })
    expect(unfinished.status).toBe(409)
    expect((await json(unfinished)).code).toBe('UPLOAD_NOT_FINISHED')
  })

  it('refuses a finished upload without the required columns (422)', async () => {
    const csv = Buffer.from('Song,Date\nUmbrella,2020-01-01\n')
    const id = await createUpload(t.url, csv.length)
    expect((await patch(t.url, id, 0, csv)).status).toBe(204)
    const response = await startJob(t.url, { upload_id: id })
    expect(response.status).toBe(422)
    expect((await json(response)).code).toBe('CSV_MISSING_COLUMNS')
  })

  it('terminates an upload (DELETE)', async () => {
    const id = await createUpload(t.url, 10)
    const deleted = await fetch(`${t.url}/uploads/${id}`, { method: 'DELETE', headers: TUS })
    expect(deleted.status).toBe(204)
    expect((await headOffset(t.url, id)).status).toBe(404)
  })
})

describe('tus uploads with API keys', () => {
  let t: TestService
  const alice = { 'x-api-key': 'alice-key-1' }
  const bob = { 'x-api-key': 'bob-key-2' }
  beforeAll(async () => {
    t = await startService({ listen: true, env: { TALLY_API_KEYS: 'alice-key-1,bob-key-2' } })
  })
  afterAll(async () => t?.close())

  it('serves the web page without a key (the key is typed into it), not the JSON', async () => {
    const page = await fetch(`${t.url}/`, { headers: { accept: 'text/html' } })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<title>')
    // Plain HTTP: a browser told to upgrade would fetch the scripts over HTTPS and fail.
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('upgrade-insecure-requests')
    expect((await fetch(`${t.url}/`)).status).toBe(401)
    expect((await fetch(`${t.url}/`, { headers: alice })).status).toBe(200)
  })

  it('needs a key, and keeps each upload to its key', async () => {
    const anonymous = await fetch(`${t.url}/uploads`, {
      method: 'POST',
      headers: { ...TUS, 'upload-length': '10' },
    })
    expect(anonymous.status).toBe(401)

    const csv = Buffer.from(PLAYS_CSV)
    const id = await createUpload(t.url, csv.length, alice)
    expect((await patch(t.url, id, 0, csv, bob)).status).toBe(404)
    expect((await headOffset(t.url, id, bob)).status).toBe(404)
    expect((await patch(t.url, id, 0, csv, alice)).status).toBe(204)
    expect((await startJob(t.url, { upload_id: id }, bob)).status).toBe(404)
    const started = await startJob(t.url, { upload_id: id }, alice)
    expect(started.status).toBe(202)
    const view = await waitDone(t.url, (await json(started)).job_id, alice)
    expect(view.status).toBe('succeeded')
  })
})

describe('tus expiration', () => {
  it('removes unfinished uploads once expired', async () => {
    const t = await startService({ listen: true, http: { uploadExpiryMs: 50 } })
    try {
      const id = await createUpload(t.url, 100)
      await new Promise((resolve) => setTimeout(resolve, 120))
      // The tus expiration extension: the server reports the expiry and then forgets the upload.
      const response = await fetch(`${t.url}/uploads/${id}`, { method: 'HEAD', headers: TUS })
      expect([404, 410]).toContain(response.status)
    } finally {
      await t.close()
    }
  })
})
