/**
 * API keys on every route the app has, found from the app itself (`printRoutes`), so a route
 * added later without a case here fails this test:
 *
 * - every route is either public (health, readiness, metrics, docs, the OpenAPI document, the
 *   web page and its assets) or needs a key: 401 with `WWW-Authenticate: Bearer` without one or
 *   with a wrong one (a key one character short, a longer one, a key of another length);
 * - with a key, nothing of another key's is visible or changeable: jobs, results, rejects,
 *   events, the earlier clients' routes, tus uploads (HEAD/PATCH/DELETE/GET, and starting a job
 *   from someone else's upload), Dropzone chunk staging, the job list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  multipart,
  PLAYS_CSV,
  startService,
  submitCsv,
  type TestService,
  waitForJob,
} from '../http/support/service.js'
import { appRoutes, send, TUS, tusUpload } from './support.js'

const KEYS = ['alice-key-1', 'bob-key-2']
const ALICE = { authorization: `Bearer ${KEYS[0]}` }
const BOB = { 'x-api-key': KEYS[1]! }

/** Routes anyone may call: probes, scrapers, the docs, and the page a key is typed into. */
const PUBLIC_PATHS = [
  '/health',
  '/ready',
  '/metrics',
  '/openapi.json',
  '/docs',
  '/docs/',
  '/docs/static/index.html',
  '/docs/static/swagger-initializer.js',
  '/docs/*',
  '/docs/json',
  '/docs/yaml',
  '/assets/:name',
]

/** What each keyed route is, for the 401 sweep and the isolation cases. */
type Kind =
  | 'job' // addresses one job by id in the path
  | 'upload' // creates a job from an upload
  | 'list' // lists the key's jobs
  | 'message' // holds no per-key data (`GET /` JSON)
  | 'tus-collection' // /uploads itself
  | 'tus-upload' // /uploads/{id}

const KEYED: Record<string, Kind> = {
  '/': 'message',
  '/jobs': 'list',
  '/jobs/:job_id': 'job',
  '/jobs/:job_id/events': 'job',
  '/jobs/:job_id/result': 'job',
  '/jobs/:job_id/result/': 'job',
  '/jobs/:job_id/rejects': 'job',
  '/jobs/count/': 'upload',
  '/job_statuses/:job_id': 'job',
  '/results/:file_name': 'job',
  '/result/:task_id': 'job',
  '/process_csv': 'upload',
  '/api/upload_file': 'upload',
  '/api/file_status/:job_id': 'job',
  '/api/download_file/:job_id': 'job',
  '/api/process_csv': 'upload',
  '/api/download_csv/:task_id': 'job',
  '/uploads': 'tus-collection',
  '/uploads/*': 'tus-upload',
}

/** The file field of each upload route. */
const UPLOAD_FIELD: Record<string, string> = {
  '/jobs': 'file',
  '/jobs/count/': 'file',
  '/process_csv': 'file',
  '/api/upload_file': 'file',
  '/api/process_csv': 'input_file',
}

let t: TestService
let routes: string[]
let aliceJob: string
let aliceUpload: string

beforeAll(async () => {
  t = await startService({ listen: true, env: { TALLY_API_KEYS: KEYS.join(',') } })
  routes = appRoutes(t.service.app.printRoutes({ commonPrefix: false }))
  aliceJob = (await submitCsv(t.inject, PLAYS_CSV, {}, ALICE)).job_id
  await waitForJob(t.inject, aliceJob, undefined, ALICE)
  aliceUpload = await tusUpload(t.url, PLAYS_CSV, ALICE)
})
afterAll(() => t?.close())

function pathOf(route: string): string {
  return route.slice(route.indexOf(' ') + 1)
}

/** A concrete URL for a route: Alice's job or upload in place of its parameter. */
function urlFor(path: string): string {
  if (path === '/results/:file_name') return `/results/${aliceJob}.csv`
  if (path === '/uploads/*') return `/uploads/${aliceUpload}`
  if (path === '/assets/:name') return '/assets/none.js'
  if (path === '/docs/*') return '/docs/static/none.css'
  return path.replace(/:job_id|:task_id/, aliceJob)
}

describe('the route list', () => {
  it('is read from the app: jobs, compat, tus and docs routes are all there', () => {
    for (const route of [
      'POST /jobs',
      'GET /jobs/:job_id/result/',
      'DELETE /jobs/:job_id',
      'PATCH /uploads/*',
      'POST /uploads',
      'GET /api/download_csv/:task_id',
      'GET /health',
    ]) {
      expect(routes).toContain(route)
    }
    expect(routes.length).toBeGreaterThan(50)
  })

  it('has every route either public or with a case here (add one for a new route)', () => {
    for (const route of routes) {
      const path = pathOf(route)
      const known = PUBLIC_PATHS.includes(path) || Object.hasOwn(KEYED, path)
      expect(known, `${route} has no API key case in test/security/isolation.test.ts`).toBe(true)
    }
  })
})

describe('without a valid key', () => {
  const WRONG: Record<string, string>[] = [
    {},
    { authorization: 'Bearer nope' },
    { authorization: `Bearer ${KEYS[0]!.slice(0, -1)}` },
    { 'x-api-key': `${KEYS[1]}x` },
    { 'x-api-key': 'k' },
    { 'x-api-key': 'x'.repeat(4096) },
    { authorization: `Basic ${Buffer.from(`a:${KEYS[0]}`).toString('base64')}` },
  ]

  it('answers 401 on every keyed route and method, and 2xx/3xx/404 on the public ones', async () => {
    for (const route of routes) {
      const [method, path] = [route.slice(0, route.indexOf(' ')), pathOf(route)]
      const url = urlFor(path)
      if (PUBLIC_PATHS.includes(path)) {
        if (method !== 'GET') continue
        const answer = await send(t.url, method, url)
        expect(answer.status, route).not.toBe(401)
        continue
      }
      for (const headers of WRONG) {
        const answer = await send(t.url, method, url, { ...TUS, ...headers })
        expect(answer.status, `${route} with ${Object.keys(headers).join()}`).toBe(401)
        expect(answer.headers['www-authenticate'], route).toBe('Bearer')
        if (method !== 'HEAD') expect(JSON.parse(answer.body).code, route).toBe('UNAUTHORIZED')
      }
    }
    // GET / is public for the HTML page only; its JSON answer needs the key.
    const page = await send(t.url, 'GET', '/', { accept: 'text/html' })
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
  }, 120_000)
})

describe("with another key's jobs and uploads", () => {
  it('every job route answers 404 to Bob and not to Alice, on every method', async () => {
    const jobRoutes = routes.filter((route) => KEYED[pathOf(route)] === 'job')
    expect(jobRoutes.length).toBeGreaterThanOrEqual(12)
    for (const route of jobRoutes) {
      const [method, path] = [route.slice(0, route.indexOf(' ')), pathOf(route)]
      if (method === 'DELETE') continue // below: Alice's own delete would remove the job
      const url = urlFor(path)
      const bob = await send(t.url, method, url, BOB)
      expect(bob.status, `Bob: ${route}`).toBe(404)
      expect(bob.body, route).not.toContain('Umbrella')
      const alice = await send(t.url, method, url, ALICE)
      expect(alice.status, `Alice: ${route}`).not.toBe(404)
      if (path.endsWith('/events') && method === 'GET') continue
      if (method === 'GET' && /result|download/.test(path)) expect(alice.body).toContain('Umbrella')
    }
    // Bob cannot cancel or delete Alice's job; it is still there for her afterwards.
    expect((await send(t.url, 'DELETE', `/jobs/${aliceJob}`, BOB)).status).toBe(404)
    expect((await send(t.url, 'GET', `/jobs/${aliceJob}`, ALICE)).status).toBe(200)
  }, 60_000)

  it('the job list shows each key its own jobs only', async () => {
    const bobJob = (await submitCsv(t.inject, PLAYS_CSV, {}, BOB)).job_id
    const ids = async (headers: Record<string, string>) =>
      JSON.parse((await send(t.url, 'GET', '/jobs?limit=100', headers)).body).jobs.map(
        (j: { job_id: string }) => j.job_id,
      )
    expect(await ids(BOB)).toContain(bobJob)
    expect(await ids(BOB)).not.toContain(aliceJob)
    expect(await ids(ALICE)).toContain(aliceJob)
    expect(await ids(ALICE)).not.toContain(bobJob)
  })

  it('every upload route makes a job owned by the key that sent it', async () => {
    const uploadRoutes = routes.filter((route) => KEYED[pathOf(route)] === 'upload')
    expect(uploadRoutes.length).toBeGreaterThanOrEqual(4)
    for (const route of [...uploadRoutes, 'POST /jobs']) {
      const path = pathOf(route)
      const form = multipart({}, [
        { field: UPLOAD_FIELD[path]!, name: 'b.csv', content: PLAYS_CSV },
      ])
      const answer = await send(t.url, 'POST', path, { ...form.headers, ...BOB }, form.payload)
      expect(answer.status, `${route}: ${answer.body}`).toBeLessThan(300)
      const body = JSON.parse(answer.body)
      const id = body.job_id ?? body.task_id ?? body.jobId
      expect(id, route).toMatch(/^job_/)
      expect((await send(t.url, 'GET', `/jobs/${id}`, BOB)).status, route).toBe(200)
      expect((await send(t.url, 'GET', `/jobs/${id}`, ALICE)).status, route).toBe(404)
    }
  })

  it("Dropzone chunks of the same dzuuid from two keys never join each other's file", async () => {
    const half = Math.floor(PLAYS_CSV.length / 2)
    const bytes = Buffer.from(PLAYS_CSV)
    const chunk = (offset: number, end: number) =>
      multipart(
        {
          dzuuid: 'shared-uuid-1',
          dzchunkbyteoffset: String(offset),
          dzchunksize: String(end - offset),
          dztotalfilesize: String(bytes.length),
          dzfilename: 'shared.csv',
        },
        [{ field: 'file', name: 'blob', content: bytes.subarray(offset, end) }],
      )
    const first = chunk(0, half)
    const aliceFirst = await send(
      t.url,
      'POST',
      '/api/upload_file',
      { ...first.headers, ...ALICE },
      first.payload,
    )
    expect(JSON.parse(aliceFirst.body).message).toBe('Chunk file uploaded successfully')
    const second = chunk(half, bytes.length)
    const bobSecond = await send(
      t.url,
      'POST',
      '/api/upload_file',
      { ...second.headers, ...BOB },
      second.payload,
    )
    // Bob's staging has only his half: no job, and nothing of Alice's file reaches him.
    expect(JSON.parse(bobSecond.body)).toEqual({ message: 'Chunk file uploaded successfully' })
    const aliceSecond = await send(
      t.url,
      'POST',
      '/api/upload_file',
      { ...second.headers, ...ALICE },
      second.payload,
    )
    const done = JSON.parse(aliceSecond.body)
    expect(done.message).toBe('File uploaded successfully')
    expect((await send(t.url, 'GET', `/jobs/${done.job_id}`, BOB)).status).toBe(404)
  })

  it("tus: Bob can neither see, change, delete nor start a job from Alice's upload", async () => {
    const tusRoutes = routes.filter((route) => KEYED[pathOf(route)] === 'tus-upload')
    for (const route of tusRoutes) {
      const method = route.slice(0, route.indexOf(' '))
      const headers: Record<string, string> = { ...TUS, ...BOB }
      let body: string | undefined
      if (method === 'PATCH') {
        headers['upload-offset'] = '0'
        headers['content-type'] = 'application/offset+octet-stream'
        body = 'Song,Date,Number of Plays\n'
      }
      const answer = await send(t.url, method, `/uploads/${aliceUpload}`, headers, body)
      if (method === 'OPTIONS') {
        // tus's capability answer: about the server, nothing about the upload.
        expect(answer.status, route).toBeLessThan(300)
        expect(answer.headers['upload-offset'], route).toBeUndefined()
        continue
      }
      // 404; a method that needs a body type (QUERY) may be refused for that first (400).
      expect(method === 'QUERY' ? [400, 404] : [404], `${route}: ${answer.body}`).toContain(
        answer.status,
      )
      expect(answer.headers['upload-offset'], route).toBeUndefined()
    }
    const collection = routes.filter((route) => KEYED[pathOf(route)] === 'tus-collection')
    for (const route of collection) {
      const method = route.slice(0, route.indexOf(' '))
      if (method === 'POST' || method === 'OPTIONS') continue
      const answer = await send(t.url, method, '/uploads', { ...TUS, ...BOB })
      expect(answer.status, route).toBeGreaterThanOrEqual(400)
      expect(answer.body).not.toContain(aliceUpload)
    }
    const start = await send(
      t.url,
      'POST',
      '/jobs',
      { 'content-type': 'application/json', ...BOB },
      JSON.stringify({ upload_id: aliceUpload }),
    )
    expect(start.status).toBe(404)
    expect(JSON.parse(start.body).code).toBe('UPLOAD_NOT_FOUND')
    // Still Alice's, whole: she starts her job from it.
    const mine = await send(
      t.url,
      'POST',
      '/jobs',
      { 'content-type': 'application/json', ...ALICE },
      JSON.stringify({ upload_id: aliceUpload }),
    )
    expect(mine.status, mine.body).toBe(202)
    const view = await waitForJob(t.inject, JSON.parse(mine.body).job_id, undefined, ALICE)
    expect(view.status).toBe('succeeded')
  })

  it("tus: an upload Bob creates is his; Alice's key cannot reach it", async () => {
    const bobUpload = await tusUpload(t.url, PLAYS_CSV, BOB)
    const head = (headers: Record<string, string>) =>
      send(t.url, 'HEAD', `/uploads/${bobUpload}`, { ...TUS, ...headers })
    expect((await head(BOB)).status).toBe(200)
    expect((await head(ALICE)).status).toBe(404)
    // A client's own owner metadata is dropped: the server writes the owner.
    const created = await send(t.url, 'POST', '/uploads', {
      ...TUS,
      ...BOB,
      'upload-length': '5',
      'upload-metadata': `tally_owner ${Buffer.from('key_alice').toString('base64')}`,
    })
    expect(created.status).toBe(201)
    const id = String(created.headers.location).split('/').pop()!
    expect((await send(t.url, 'HEAD', `/uploads/${id}`, { ...TUS, ...ALICE })).status).toBe(404)
  })
})
