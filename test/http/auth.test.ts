/**
 * API keys: every route but the public ones needs a key (Bearer or X-API-Key); a key sees only
 * its own jobs, on the primary and the compat routes; rate limits count per key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  multipart,
  PLAYS_CSV,
  startService,
  submitCsv,
  type TestService,
  waitForJob,
} from './support/service.js'

const ALICE = { authorization: 'Bearer alice-key-1' }
const BOB = { 'x-api-key': 'bob-key-2' }

describe('with API keys', () => {
  let t: TestService
  let aliceJob: string

  beforeAll(async () => {
    t = await startService({ env: { TALLY_API_KEYS: 'alice-key-1,bob-key-2' } })
    aliceJob = (await submitCsv(t.inject, PLAYS_CSV, {}, ALICE)).job_id
    await waitForJob(t.inject, aliceJob, undefined, ALICE)
  })
  afterAll(() => t.close())

  it('keeps health, readiness, metrics, docs and the OpenAPI document public', async () => {
    for (const url of ['/health', '/ready', '/metrics', '/openapi.json', '/docs', '/docs/json']) {
      const response = await t.inject({ method: 'GET', url })
      expect(response.statusCode, url).toBeLessThan(400)
    }
  })

  it('answers 401 without a key or with a wrong one, on every other route', async () => {
    const routes = [
      ['GET', '/'],
      ['GET', '/jobs'],
      ['POST', '/jobs'],
      ['GET', `/jobs/${aliceJob}`],
      ['GET', `/jobs/${aliceJob}/result`],
      ['GET', `/job_statuses/${aliceJob}`],
      ['POST', '/process_csv'],
      ['POST', '/api/upload_file'],
      ['GET', `/jobs/${aliceJob}/result/`],
      ['GET', `/api/download_csv/${aliceJob}`],
    ] as const
    for (const [method, url] of routes) {
      for (const headers of [{}, { authorization: 'Bearer nope' }, { 'x-api-key': 'alice-key-' }]) {
        const response = await t.inject({ method, url, headers })
        expect(response.statusCode, `${method} ${url}`).toBe(401)
        expect(response.headers['www-authenticate']).toBe('Bearer')
        expect(response.json().code).toBe('UNAUTHORIZED')
      }
    }
  })

  it('lets a key see its own jobs only: 404 for the others, on every route set', async () => {
    expect(
      (await t.inject({ method: 'GET', url: `/jobs/${aliceJob}`, headers: ALICE })).statusCode,
    ).toBe(200)
    const bobUrls = [
      `/jobs/${aliceJob}`,
      `/jobs/${aliceJob}/result`,
      `/jobs/${aliceJob}/rejects`,
      `/jobs/${aliceJob}/events`,
      `/job_statuses/${aliceJob}`,
      `/results/${aliceJob}.csv`,
      `/result/${aliceJob}`,
      `/api/file_status/${aliceJob}`,
      `/api/download_file/${aliceJob}`,
      `/jobs/${aliceJob}/result/`,
      `/api/download_csv/${aliceJob}`,
    ]
    for (const url of bobUrls) {
      const response = await t.inject({ method: 'GET', url, headers: BOB })
      expect(response.statusCode, url).toBe(404)
    }
    expect(
      (await t.inject({ method: 'DELETE', url: `/jobs/${aliceJob}`, headers: BOB })).statusCode,
    ).toBe(404)
    const bobList = (await t.inject({ method: 'GET', url: '/jobs', headers: BOB })).json()
    expect(bobList.jobs).toEqual([])
    const aliceList = (await t.inject({ method: 'GET', url: '/jobs', headers: ALICE })).json()
    expect(aliceList.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([aliceJob])
  })

  it('accepts uploads on compat routes under the key, owned by it', async () => {
    const form = multipart({}, [{ field: 'file', name: 'a.csv', content: PLAYS_CSV }])
    const response = await t.inject({
      method: 'POST',
      url: '/process_csv',
      payload: form.payload,
      headers: { ...form.headers, ...BOB },
    })
    expect(response.statusCode).toBe(202)
    const id = response.json().task_id
    expect((await t.inject({ method: 'GET', url: `/jobs/${id}`, headers: BOB })).statusCode).toBe(
      200,
    )
    expect((await t.inject({ method: 'GET', url: `/jobs/${id}`, headers: ALICE })).statusCode).toBe(
      404,
    )
  })
})

describe('rate limits', () => {
  let t: TestService
  beforeAll(async () => {
    t = await startService({
      env: { TALLY_API_KEYS: 'alice-key-1,bob-key-2' },
      http: { rateLimit: { max: 3, timeWindowMs: 60_000 } },
    })
  })
  afterAll(() => t.close())

  it('count per key: one key limited does not limit another; public routes are not limited', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) {
      statuses.push((await t.inject({ method: 'GET', url: '/jobs', headers: ALICE })).statusCode)
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429])
    const limited = await t.inject({ method: 'GET', url: '/jobs', headers: ALICE })
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED', status: 429 })
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    expect((await t.inject({ method: 'GET', url: '/jobs', headers: BOB })).statusCode).toBe(200)
    for (let i = 0; i < 5; i++) {
      expect((await t.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)
    }
  })

  it('count wrong keys per address, so keys cannot be guessed at full speed', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) {
      const headers = { authorization: `Bearer guess-${i}` }
      statuses.push((await t.inject({ method: 'GET', url: '/jobs', headers })).statusCode)
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429])
  })
})
