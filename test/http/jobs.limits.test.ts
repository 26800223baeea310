/**
 * Limits with clear answers: too large (413, announced or found while streaming, raw or
 * multipart, on a real socket), queue full (503 + Retry-After), not enough disk (507). A refused
 * upload leaves nothing in storage and no job.
 */
import { readdir } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  multipart,
  PLAYS_CSV,
  songPlays,
  startService,
  submitCsv,
  type TestService,
} from './support/service.js'

const MAX = 200_000

async function storedUploads(t: TestService): Promise<string[]> {
  const keys: string[] = []
  for await (const key of t.service.storage.list('uploads/')) keys.push(key)
  return keys
}

/** A raw upload over a real socket, written in pieces, without Content-Length (chunked). */
function streamUpload(url: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/jobs`,
      { method: 'POST', headers: { 'content-type': 'text/csv', 'transfer-encoding': 'chunked' } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          text += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      },
    )
    // The server may close while we still write: the answer is what counts.
    req.on('error', (error) => reject(error))
    let at = 0
    const writeMore = () => {
      while (at < body.length) {
        const piece = body.subarray(at, at + 16 * 1024)
        at += piece.length
        if (!req.write(piece)) {
          req.once('drain', writeMore)
          return
        }
      }
      req.end()
    }
    writeMore()
  })
}

describe('upload size limit', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({ listen: true, env: { TALLY_MAX_UPLOAD_BYTES: String(MAX) } })
  })
  afterAll(() => t.close())

  it('refuses an announced size over the limit with 413 before reading', async () => {
    const response = await t.inject({
      method: 'POST',
      url: '/jobs',
      payload: songPlays(10_000),
      headers: { 'content-type': 'text/csv' },
    })
    expect(response.statusCode).toBe(413)
    expect(response.json()).toMatchObject({ code: 'UPLOAD_TOO_LARGE', status: 413 })
    expect(response.json().detail).toContain(String(MAX))
  })

  it('refuses a streamed body that passes the limit with 413 (real socket)', async () => {
    const answer = await streamUpload(t.url, songPlays(10_000))
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.body).code).toBe('UPLOAD_TOO_LARGE')
    const under = await streamUpload(t.url, Buffer.from(PLAYS_CSV))
    expect(under.status).toBe(202)
  })

  it('refuses a multipart file over the limit with 413', async () => {
    const form = multipart({}, [{ field: 'file', name: 'big.csv', content: songPlays(10_000) }])
    // Without Content-Length, so only the stream can tell.
    const response = await fetch(`${t.url}/jobs`, {
      method: 'POST',
      headers: form.headers,
      body: new Blob([form.payload]).stream(),
      duplex: 'half',
    } as RequestInit)
    expect(response.status).toBe(413)
    expect(((await response.json()) as { code: string }).code).toBe('UPLOAD_TOO_LARGE')
  })

  it('leaves no stored upload and no job behind', async () => {
    const jobs = (await t.inject({ method: 'GET', url: '/jobs' })).json().jobs
    // Only the one small upload that was accepted.
    expect(jobs).toHaveLength(1)
    const keys = await storedUploads(t)
    expect(keys.length).toBeLessThanOrEqual(1)
  })
})

describe('queue limit', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({
      startJobs: false,
      env: { TALLY_QUEUE_LIMIT: '2' },
      http: { retryAfterSeconds: 7 },
    })
  })
  afterAll(() => t.close())

  it('answers 503 QUEUE_FULL with Retry-After once the queue is full', async () => {
    await submitCsv(t.inject, PLAYS_CSV)
    await submitCsv(t.inject, PLAYS_CSV)
    const form = multipart({}, [{ field: 'file', name: 'a.csv', content: PLAYS_CSV }])
    const response = await t.inject({ method: 'POST', url: '/jobs', ...form })
    expect(response.statusCode).toBe(503)
    expect(response.headers['retry-after']).toBe('7')
    expect(response.json()).toMatchObject({ code: 'QUEUE_FULL', status: 503 })
    expect(response.json().detail).toContain('2 jobs are waiting')
    expect(await storedUploads(t)).toHaveLength(2)
  })
})

describe('free disk', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({ http: { freeDiskBytes: async () => 1024 } })
  })
  afterAll(() => t.close())

  it('answers 507 INSUFFICIENT_STORAGE when the upload would not fit', async () => {
    const form = multipart({}, [{ field: 'file', name: 'a.csv', content: PLAYS_CSV }])
    const response = await t.inject({ method: 'POST', url: '/jobs', ...form })
    expect(response.statusCode).toBe(507)
    expect(response.json()).toMatchObject({ code: 'INSUFFICIENT_STORAGE', status: 507 })
    expect(response.json().detail).toContain('not enough free disk space')
  })
})

describe('a client that goes away mid-upload', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({ listen: true })
  })
  afterAll(() => t.close())

  it('leaves no file and no job, and the server keeps serving', async () => {
    const port = Number(new URL(t.url).port)
    const socket = connect(port, '127.0.0.1')
    await new Promise((done) => socket.once('connect', done))
    const head = PLAYS_CSV.slice(0, 40)
    socket.write(
      `POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\n${head}`,
    )
    await new Promise((done) => setTimeout(done, 200))
    socket.destroy()
    await new Promise((done) => setTimeout(done, 300))
    const files = await readdir(join(t.dir, 'files'), { recursive: true })
    expect(
      files.filter((name) => name.includes('.partial') || name.startsWith('uploads/job_')),
    ).toEqual([])
    expect((await t.inject({ method: 'GET', url: '/jobs' })).json().jobs).toEqual([])
    expect((await submitCsv(t.inject, PLAYS_CSV)).status).toBe('queued')
  })
})
