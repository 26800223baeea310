/**
 * Answer headers that protect browsers and the service:
 * - CORS is off by default (no `Access-Control-Allow-Origin` for any origin, preflight
 *   included); `TALLY_CORS_ORIGINS` turns it on for the origins listed and no other;
 * - helmet's headers are on every kind of answer: the JSON API, the web page, downloads,
 *   problem answers, tus answers (written by `@tus/server` itself) and the router's own errors;
 * - requests are rate limited (429 `RATE_LIMITED` with `Retry-After`) on the primary, the
 *   earlier clients' and the tus routes alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'
import {
  PLAYS_CSV,
  startService,
  submitCsv,
  type TestService,
  waitForJob,
} from '../http/support/service.js'
import { TUS, tusUpload } from './support.js'

const APP_ORIGIN = 'https://app.example.com'
const EVIL_ORIGIN = 'https://evil.example.net'

describe('TALLY_CORS_ORIGINS', () => {
  it('is empty by default and reads a comma-separated list of origins', () => {
    expect(loadConfig({}, '/srv').corsOrigins).toEqual([])
    expect(
      loadConfig({ TALLY_CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:5173` }, '/srv')
        .corsOrigins,
    ).toEqual([APP_ORIGIN, 'http://localhost:5173'])
  })

  it('refuses anything but origins (a wildcard, a path, no scheme)', () => {
    for (const bad of ['*', 'app.example.com', 'https://app.example.com/ui', 'ftp://x']) {
      expect(() => loadConfig({ TALLY_CORS_ORIGINS: bad }, '/srv'), bad).toThrow(ConfigError)
      try {
        loadConfig({ TALLY_CORS_ORIGINS: bad }, '/srv')
      } catch (error) {
        expect((error as ConfigError).problems.join()).toContain('TALLY_CORS_ORIGINS')
      }
    }
  })
})

async function preflight(t: TestService, origin: string) {
  return t.inject({
    method: 'OPTIONS',
    url: '/jobs',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  })
}

describe('CORS', () => {
  it('is off by default: no Access-Control-Allow-Origin for any origin', async () => {
    const t = await startService()
    try {
      for (const origin of [APP_ORIGIN, EVIL_ORIGIN]) {
        const get = await t.inject({ method: 'GET', url: '/jobs', headers: { origin } })
        expect(get.statusCode).toBe(200)
        expect(get.headers['access-control-allow-origin']).toBeUndefined()
        const options = await preflight(t, origin)
        expect(options.headers['access-control-allow-origin']).toBeUndefined()
        expect(options.headers['access-control-allow-methods']).toBeUndefined()
      }
    } finally {
      await t.close()
    }
  })

  it('with TALLY_CORS_ORIGINS: on for a listed origin, not for another', async () => {
    const t = await startService({ env: { TALLY_CORS_ORIGINS: APP_ORIGIN } })
    try {
      const get = await t.inject({ method: 'GET', url: '/jobs', headers: { origin: APP_ORIGIN } })
      expect(get.headers['access-control-allow-origin']).toBe(APP_ORIGIN)
      expect(String(get.headers['access-control-expose-headers'])).toContain('location')
      const options = await preflight(t, APP_ORIGIN)
      expect(options.statusCode).toBeLessThan(300)
      expect(options.headers['access-control-allow-origin']).toBe(APP_ORIGIN)

      const evil = await t.inject({ method: 'GET', url: '/jobs', headers: { origin: EVIL_ORIGIN } })
      expect(evil.headers['access-control-allow-origin']).toBeUndefined()
      const evilPreflight = await preflight(t, EVIL_ORIGIN)
      expect(evilPreflight.headers['access-control-allow-origin']).toBeUndefined()
      // A look-alike is another origin.
      const alike = await t.inject({
        method: 'GET',
        url: '/jobs',
        headers: { origin: `${APP_ORIGIN}.evil.example.net` },
      })
      expect(alike.headers['access-control-allow-origin']).toBeUndefined()
    } finally {
      await t.close()
    }
  })
})

describe('security headers (helmet)', () => {
  let t: TestService
  let jobId: string
  beforeAll(async () => {
    t = await startService({ listen: true })
    jobId = (await submitCsv(t.inject, PLAYS_CSV, {}, {})).job_id
    await waitForJob(t.inject, jobId)
  })
  afterAll(() => t?.close())

  function expectHelmet(headers: Record<string, unknown>, what: string): void {
    expect(headers['x-content-type-options'], what).toBe('nosniff')
    expect(headers['x-frame-options'], what).toBe('SAMEORIGIN')
    expect(String(headers['content-security-policy']), what).toContain("default-src 'self'")
    expect(headers['cross-origin-resource-policy'], what).toBe('same-origin')
    expect(headers['referrer-policy'], what).toBe('no-referrer')
    expect(headers['strict-transport-security'], what).toBeDefined()
    expect(headers['x-powered-by'], what).toBeUndefined()
  }

  it('are on the API, the web page, downloads and problem answers', async () => {
    const answers = {
      'GET /jobs (JSON)': await t.inject({ method: 'GET', url: '/jobs' }),
      'GET / (JSON)': await t.inject({ method: 'GET', url: '/' }),
      'GET / (web page)': await t.inject({
        method: 'GET',
        url: '/',
        headers: { accept: 'text/html' },
      }),
      'GET /jobs/{id}/result (download)': await t.inject({
        method: 'GET',
        url: `/jobs/${jobId}/result`,
      }),
      'GET /jobs/{id}/rejects (download)': await t.inject({
        method: 'GET',
        url: `/jobs/${jobId}/rejects`,
      }),
      'GET /results/{file} (compat download)': await t.inject({
        method: 'GET',
        url: `/results/${jobId}.csv`,
      }),
      'GET /jobs/{id}/result/ (compat download)': await t.inject({
        method: 'GET',
        url: `/jobs/${jobId}/result/`,
      }),
      'GET /jobs/{unknown} (problem)': await t.inject({ method: 'GET', url: '/jobs/job_x' }),
      'GET /nowhere (404 problem)': await t.inject({ method: 'GET', url: '/nowhere' }),
      'GET /docs (Swagger UI)': await t.inject({ method: 'GET', url: '/docs/' }),
    }
    for (const [what, answer] of Object.entries(answers)) {
      expect(answer.statusCode, what).toBeLessThan(500)
      expectHelmet(answer.headers, what)
    }
    expect(answers['GET /jobs/{id}/result (download)'].statusCode).toBe(200)
    expect(answers['GET / (web page)'].headers['content-type']).toContain('text/html')
  })

  it('are on tus answers too, which @tus/server writes itself', async () => {
    const id = await tusUpload(t.url, PLAYS_CSV)
    const head = await fetch(`${t.url}/uploads/${id}`, { method: 'HEAD', headers: TUS })
    expect(head.status).toBe(200)
    expectHelmet(Object.fromEntries(head.headers), 'HEAD /uploads/{id}')
  })

  it("the router's own errors are problems too, never Fastify's echo of the path", async () => {
    const long = await fetch(`${t.url}/jobs/${'a'.repeat(5000)}`)
    expect(long.status).toBe(404)
    expect(long.headers.get('content-type')).toContain('application/problem+json')
    expect(long.headers.get('x-content-type-options')).toBe('nosniff')
    const body = (await long.json()) as { code: string; detail: string }
    expect(body.code).toBe('ROUTE_NOT_FOUND')
    expect(body.detail.length).toBeLessThan(300)

    const bad = await fetch(`${t.url}/jobs/%ZZ`)
    expect(bad.status).toBe(400)
    expect(bad.headers.get('content-type')).toContain('application/problem+json')
    expect(((await bad.json()) as { code: string }).code).toBe('BAD_REQUEST')
  })
})

describe('rate limits', () => {
  it('answer 429 RATE_LIMITED with Retry-After, per key, on primary, compat and tus routes', async () => {
    const t = await startService({
      listen: true,
      env: { TALLY_API_KEYS: 'alice-key-1,bob-key-2' },
      http: { rateLimit: { max: 2, timeWindowMs: 60_000 } },
    })
    try {
      const alice = { authorization: 'Bearer alice-key-1' }
      const bob = { 'x-api-key': 'bob-key-2' }
      // Each key has its own count: Bob on the primary API, Alice on a compat route.
      for (const [url, headers] of [
        ['/jobs', bob],
        ['/job_statuses/job_x', alice],
      ] as const) {
        const statuses: number[] = []
        let last: Response | undefined
        for (let i = 0; i < 4; i++) {
          last = await fetch(`${t.url}${url}`, { headers })
          statuses.push(last.status)
        }
        expect(statuses, url).toEqual([url === '/jobs' ? 200 : 404, statuses[0], 429, 429])
        expect(Number(last!.headers.get('retry-after')), url).toBeGreaterThan(0)
        const body = (await last!.json()) as { code: string; status: number }
        expect(body).toMatchObject({ code: 'RATE_LIMITED', status: 429 })
      }
      // Alice is limited everywhere now, tus and the earlier clients' routes included.
      for (const url of ['/api/download_csv/job_x', '/uploads/abc', '/result/job_x']) {
        const answer = await fetch(`${t.url}${url}`, { headers: { ...TUS, ...alice } })
        expect(answer.status, url).toBe(429)
        expect(answer.headers.get('retry-after'), url).not.toBeNull()
      }
      // Wrong keys are counted per address: guessing stops after the limit too.
      const guesses: number[] = []
      for (let i = 0; i < 4; i++) {
        const answer = await fetch(`${t.url}/jobs`, { headers: { authorization: `Bearer g${i}` } })
        guesses.push(answer.status)
      }
      expect(guesses).toEqual([401, 401, 429, 429])
      // Probes are never limited.
      for (let i = 0; i < 4; i++) expect((await fetch(`${t.url}/health`)).status).toBe(200)
    } finally {
      await t.close()
    }
  })
})
