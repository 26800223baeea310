/**
 * Path traversal and injection on every parameter that names a job, a file or an upload, over
 * real HTTP (raw request paths, nothing normalised by a client): the primary routes, the
 * earlier clients' routes (sets A to E) and tus (`/uploads/:id`).
 *
 * Each hostile value gets a clear 4xx (400 or 404) with a JSON body (set D's documented plain
 * `Job not found.` aside), and nothing outside the data directory is read, changed or created:
 * a canary file beside the data directory stays as it was, and no new file appears there.
 * File names from uploads (multipart `filename`, `filename*`, the raw body's `file_name`, tus
 * metadata, Dropzone's `dzfilename`) keep their last part only, and a CR/LF in them never
 * reaches a response header (`Content-Disposition` of the downloads).
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  multipart,
  PLAYS_CSV,
  PLAYS_TOTALS,
  startService,
  type TestService,
  waitForJob,
} from '../http/support/service.js'
import { type RawAnswer, send, snapshot, TUS, tusUpload } from './support.js'

/** Hostile ids, as they appear in the request path. */
const EVIL_IDS = [
  '..',
  '%2E%2E',
  '..%2F..%2Fcanary.csv',
  '..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd',
  '..%5C..%5Ccanary.csv',
  '%252E%252E%252Fcanary.csv',
  '%00',
  'job_%00',
  'job_aaaaaaaaaaaaaaaaaaaaaaaa%00',
  'job_aaaaaaaaaaaaaaaaaaaaaaaa%2F..%2F..%2Fcanary.csv',
  `job_${'a'.repeat(190)}`,
  'a'.repeat(5000),
  encodeURIComponent('jöb_ünïcödé'),
  encodeURIComponent('job_\u202Eaaaaaaaaaaaaaaaaaaaaaaa'),
  encodeURIComponent('😀'),
  '%ZZ',
  'JOB_AAAAAAAAAAAAAAAAAAAAAAAA',
  'job_aaaaaaaaaaaaaaaaaaaaaaa1',
]

/** Routes with a job (or file, or upload) in the path: `{}` is where the id goes. */
const ID_ROUTES: readonly [string, string][] = [
  ['GET', '/jobs/{}'],
  ['DELETE', '/jobs/{}'],
  ['GET', '/jobs/{}/events'],
  ['GET', '/jobs/{}/result'],
  ['GET', '/jobs/{}/rejects'],
  ['GET', '/job_statuses/{}'],
  ['GET', '/results/{}'],
  ['GET', '/results/{}.csv'],
  ['GET', '/result/{}'],
  ['GET', '/api/file_status/{}'],
  ['GET', '/api/download_file/{}'],
  ['GET', '/jobs/{}/result/'],
  ['GET', '/api/download_csv/{}'],
  ['HEAD', '/uploads/{}'],
  ['GET', '/uploads/{}'],
  ['PATCH', '/uploads/{}'],
  ['DELETE', '/uploads/{}'],
]

let parent: string
let t: TestService
let canary: string
let canaryBytes: Buffer
let canaryMtime: number
/** Files beside the data directory before the tests, and their state. */
let outside: Map<string, string>

function dataDir(): string {
  return join(parent, 'data')
}

function outsideFiles(): Map<string, string> {
  const files = snapshot(parent)
  for (const path of [...files.keys()]) if (path.startsWith(`${dataDir()}/`)) files.delete(path)
  return files
}

function expectJsonRefusal(answer: RawAnswer, what: string, echoed = ''): void {
  expect([400, 404], `${what}: ${answer.status} ${answer.body.slice(0, 200)}`).toContain(
    answer.status,
  )
  const type = String(answer.headers['content-type'] ?? '')
  if (what.startsWith('HEAD ')) return // a HEAD answer has no body
  if (type.startsWith('text/plain')) {
    // Set D's documented answer for an unknown job.
    expect(what).toMatch(/^GET \/jobs\/\{\}\/result\/ /)
    expect(answer.body).toBe('Job not found.')
    return
  }
  expect(type, what).toMatch(/^application\/(problem\+)?json/)
  const body = JSON.parse(answer.body) as { code?: string; status?: number; detail?: string }
  expect(body.code, what).toMatch(/^[A-Z_]+$/)
  expect(body.status, what).toBe(answer.status)
  // Never an internal path in the message (unless the client sent it itself).
  if (!echoed.includes(parent)) expect(answer.body, what).not.toContain(parent)
}

beforeAll(async () => {
  parent = join(tmpdir(), `tally-traversal-${randomBytes(6).toString('hex')}`)
  mkdirSync(join(parent, 'etc'), { recursive: true })
  canary = join(parent, 'canary.csv')
  canaryBytes = Buffer.from('canary: must never be read, changed or removed\n')
  writeFileSync(canary, canaryBytes)
  writeFileSync(join(parent, 'etc', 'passwd'), 'root:x:0:0\n')
  canaryMtime = statSync(canary).mtimeMs
  outside = outsideFiles()
  t = await startService({ listen: true, dir: dataDir() })
})

afterAll(async () => {
  await t?.close()
  rmSync(parent, { recursive: true, force: true })
})

function expectNothingOutsideTouched(): void {
  expect(readFileSync(canary).equals(canaryBytes)).toBe(true)
  expect(statSync(canary).mtimeMs).toBe(canaryMtime)
  expect(outsideFiles()).toEqual(outside)
  for (const name of ['x.csv', 'canary.csv', 'x-totals.csv']) {
    expect(existsSync(join(tmpdir(), name)), name).toBe(false)
  }
}

describe('ids in the path', () => {
  it('every id route refuses every hostile id with a clear 4xx JSON error', async () => {
    for (const [method, template] of ID_ROUTES) {
      for (const id of EVIL_IDS) {
        const path = template.replace('{}', id)
        const headers: Record<string, string> = template.startsWith('/uploads') ? { ...TUS } : {}
        let body: string | undefined
        if (method === 'PATCH') {
          headers['upload-offset'] = '0'
          headers['content-type'] = 'application/offset+octet-stream'
          body = 'Song,Date,Number of Plays\n'
        }
        const answer = await send(t.url, method, path, headers, body)
        expectJsonRefusal(answer, `${method} ${template} with ${id.slice(0, 60)}`)
      }
    }
    expectNothingOutsideTouched()
  }, 120_000)

  it('unencoded dot segments are no route at all (404 JSON), never a file', async () => {
    for (const path of [
      '/jobs/../../canary.csv',
      '/results/../../canary.csv',
      '/uploads/../../canary.csv',
      '/assets/../../canary.csv',
      '/assets/..%2F..%2F..%2Fcanary.csv',
      '/assets/%2E%2E%2Fpackage.json',
      '/../../../../etc/passwd',
      '/jobs/%2e%2e/%2e%2e/canary.csv',
    ]) {
      const answer = await send(t.url, 'GET', path)
      expectJsonRefusal(answer, `GET ${path}`)
      expect(answer.body).not.toContain('canary: must never')
      expect(answer.body).not.toContain('root:x:0:0')
    }
    expectNothingOutsideTouched()
  })
})

describe('upload_id of POST /jobs (JSON)', () => {
  it('refuses ids outside the tus directory with 404 UPLOAD_NOT_FOUND, or a 400', async () => {
    const hostile = [
      '../../canary.csv',
      '../canary',
      '..',
      '.',
      '',
      '/etc/passwd',
      `${parent}/canary.csv`,
      '..\\..\\canary.csv',
      'abc\u0000def',
      'a'.repeat(10_000),
      'üñí',
      '../data/jobs.db',
    ]
    for (const uploadId of hostile) {
      const answer = await send(
        t.url,
        'POST',
        '/jobs',
        { 'content-type': 'application/json' },
        JSON.stringify({ upload_id: uploadId }),
      )
      expectJsonRefusal(answer, `upload_id ${JSON.stringify(uploadId.slice(0, 40))}`, uploadId)
    }
    for (const body of ['{"upload_id": 5}', '{"upload_id": ["x"]}', '[]', 'null', '{']) {
      const answer = await send(
        t.url,
        'POST',
        '/jobs',
        { 'content-type': 'application/json' },
        body,
      )
      expect(answer.status, body).toBe(400)
      expect(JSON.parse(answer.body).code).toMatch(/^[A-Z_]+$/)
    }
    expectNothingOutsideTouched()
  })
})

/** The download of a finished job: its Content-Disposition and the headers next to it. */
async function downloadHeaders(jobId: string): Promise<RawAnswer> {
  await waitForJob(t.inject, jobId)
  const answer = await send(t.url, 'GET', `/jobs/${jobId}/result`)
  expect(answer.status).toBe(200)
  expect(answer.body).toBe(PLAYS_TOTALS)
  return answer
}

function expectSafeDisposition(answer: RawAnswer, expectedBase: string): void {
  const disposition = String(answer.headers['content-disposition'])
  expect(disposition).not.toMatch(/[\r\n]/)
  expect(disposition).toContain(`filename="${expectedBase}`)
  expect(answer.headers['set-cookie']).toBeUndefined()
  expect(answer.headers['x-injected']).toBeUndefined()
}

describe('file names from uploads', () => {
  it('a multipart filename with ../ keeps its last part; nothing is written outside', async () => {
    for (const name of ['../../x.csv', '..\\..\\x.csv', '/etc/x.csv', `${parent}/x.csv`]) {
      const form = multipart({}, [{ field: 'file', name, content: PLAYS_CSV }])
      const answer = await send(t.url, 'POST', '/jobs', form.headers, form.payload)
      expect(answer.status, answer.body).toBe(202)
      const job = JSON.parse(answer.body)
      expect(job.file_name).toBe('x.csv')
      expectSafeDisposition(await downloadHeaders(job.job_id), 'x-totals.csv')
    }
    expectNothingOutsideTouched()
    expect(existsSync(join(parent, 'x.csv'))).toBe(false)
  })

  it('a CR/LF in a file name never reaches a response header', async () => {
    const evil = 'a\r\nSet-Cookie: stolen=1\r\nX-Injected: 1\r\n\r\n<html>.csv'
    // In a multipart part header: a bare line break in filename, or RFC 5987 `filename*`.
    // The form parser does not take either part as the file: a 400, and no job.
    const boundary = 'tallyEvilBoundary'
    for (const disposition of [
      `filename*=UTF-8''${encodeURIComponent(evil)}`,
      'filename="a\nSet-Cookie: stolen=1.csv"',
      'filename="a\rSet-Cookie: stolen=1.csv"',
    ]) {
      const payload = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; ${disposition}\r\nContent-Type: text/csv\r\n\r\n`,
        ),
        Buffer.from(PLAYS_CSV),
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ])
      const viaForm = await send(
        t.url,
        'POST',
        '/jobs',
        { 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload,
      )
      expectJsonRefusal(viaForm, `multipart ${disposition}`)
      expect(JSON.parse(viaForm.body).code).toBe('FILE_MISSING')
    }

    // The raw body's file_name query parameter.
    const viaQuery = await send(
      t.url,
      'POST',
      `/jobs?file_name=${encodeURIComponent(evil)}`,
      { 'content-type': 'text/csv' },
      PLAYS_CSV,
    )
    expect(viaQuery.status, viaQuery.body).toBe(202)
    const queryJob = JSON.parse(viaQuery.body)
    expect(queryJob.file_name).not.toMatch(/[\r\n]/)
    const download = await downloadHeaders(queryJob.job_id)
    expectSafeDisposition(download, 'aSet-Cookie: stolen=1')
    // The rejects download is named the same way.
    const rejects = await send(t.url, 'GET', `/jobs/${queryJob.job_id}/rejects`)
    expect(String(rejects.headers['content-disposition'])).not.toMatch(/[\r\n]/)

    // tus metadata.
    const uploadId = await tusUpload(t.url, PLAYS_CSV, {}, evil)
    const viaTus = await send(
      t.url,
      'POST',
      '/jobs',
      { 'content-type': 'application/json' },
      JSON.stringify({ upload_id: uploadId }),
    )
    expect(viaTus.status, viaTus.body).toBe(202)
    const tusJob = JSON.parse(viaTus.body)
    expect(tusJob.file_name).not.toMatch(/[\r\n]/)
    expectSafeDisposition(await downloadHeaders(tusJob.job_id), 'aSet-Cookie: stolen=1')

    // The earlier clients' downloads use the same header.
    for (const path of [
      `/results/${tusJob.job_id}.csv`,
      `/result/${tusJob.job_id}`,
      `/api/download_file/${tusJob.job_id}`,
      `/jobs/${tusJob.job_id}/result/`,
      `/api/download_csv/${tusJob.job_id}`,
    ]) {
      const answer = await send(t.url, 'GET', path)
      expect(answer.status, path).toBe(200)
      expect(answer.headers['set-cookie'], path).toBeUndefined()
      expect(answer.headers['x-injected'], path).toBeUndefined()
      expect(String(answer.headers['content-disposition'] ?? ''), path).not.toMatch(/[\r\n]/)
    }
    expectNothingOutsideTouched()
  })

  it('a raw body file_name with a path, or too long, is cut to its last part or refused', async () => {
    const pathName = await send(
      t.url,
      'POST',
      `/jobs?file_name=${encodeURIComponent('../../../x.csv')}`,
      { 'content-type': 'text/csv' },
      PLAYS_CSV,
    )
    expect(pathName.status).toBe(202)
    expect(JSON.parse(pathName.body).file_name).toBe('x.csv')
    // A line break before the path does not keep the path in the name.
    const hidden = await send(
      t.url,
      'POST',
      `/jobs?file_name=${encodeURIComponent('a\n../../x.csv')}`,
      { 'content-type': 'text/csv' },
      PLAYS_CSV,
    )
    expect(hidden.status).toBe(202)
    expect(JSON.parse(hidden.body).file_name).toBe('x.csv')
    const long = await send(
      t.url,
      'POST',
      `/jobs?file_name=${'a'.repeat(300)}.csv`,
      { 'content-type': 'text/csv' },
      PLAYS_CSV,
    )
    expectJsonRefusal(long, 'file_name of 300 characters')
    expect(JSON.parse(long.body).code).toBe('VALIDATION_FAILED')
    expectNothingOutsideTouched()
  })

  it('Dropzone chunks: a dzuuid with a path is refused; a dzfilename keeps its last part', async () => {
    for (const dzuuid of ['../../x', '..', 'a/b', 'a\\b', '%2E%2E', 'a'.repeat(200), 'ü']) {
      const form = multipart(
        {
          dzuuid,
          dzchunkbyteoffset: '0',
          dzchunksize: String(PLAYS_CSV.length),
          dztotalfilesize: String(PLAYS_CSV.length),
          dzfilename: 'x.csv',
        },
        [{ field: 'file', name: 'blob', content: PLAYS_CSV }],
      )
      const answer = await send(t.url, 'POST', '/api/upload_file', form.headers, form.payload)
      expectJsonRefusal(answer, `dzuuid ${dzuuid.slice(0, 20)}`)
      expect(JSON.parse(answer.body).code).toBe('CHUNK_INVALID')
    }
    const form = multipart(
      {
        dzuuid: 'aaaa-bbbb',
        dzchunkbyteoffset: '0',
        dzchunksize: String(PLAYS_CSV.length),
        dztotalfilesize: String(PLAYS_CSV.length),
        dzfilename: '../../x\r\nX-Injected: 1.csv',
      },
      [{ field: 'file', name: 'blob', content: PLAYS_CSV }],
    )
    const answer = await send(t.url, 'POST', '/api/upload_file', form.headers, form.payload)
    expect(answer.status, answer.body).toBe(200)
    const { job_id: jobId } = JSON.parse(answer.body)
    const view = await waitForJob(t.inject, jobId)
    expect(view.file_name).not.toMatch(/[\r\n/\\]/)
    expectSafeDisposition(await downloadHeaders(jobId), 'xX-Injected: 1-totals.csv')
    expectNothingOutsideTouched()
  })
})

describe('tus uploads', () => {
  it('a client cannot pick the upload id or its path', async () => {
    // tus names the upload itself: a creation request to a path below /uploads is no route.
    for (const path of ['/uploads/..%2F..%2Fcanary.csv', '/uploads/%2E%2E', '/uploads/abc']) {
      const answer = await send(t.url, 'POST', path, {
        ...TUS,
        'upload-length': '10',
      })
      expectJsonRefusal(answer, `POST ${path}`)
      expect(JSON.parse(answer.body).code).toBe('ROUTE_NOT_FOUND')
    }
    expect(snapshot(join(dataDir(), 'tus')).size).toBe(0)
    const created = await send(t.url, 'POST', '/uploads', {
      ...TUS,
      'upload-length': '10',
      'upload-metadata': `filename ${Buffer.from('../../canary.csv').toString('base64')}`,
    })
    expect(created.status).toBe(201)
    const id = String(created.headers.location).split('/').pop()!
    expect(id).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(existsSync(join(dataDir(), 'tus', id))).toBe(true)
    expectNothingOutsideTouched()
  })
})
