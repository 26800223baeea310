/**
 * API keys against the embedded service (suites/auth.ts); rate limits counted per key, which
 * need a limit only the in-process service takes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authSuite } from './suites/auth.js'
import { startService, type TestService } from './support/service.js'
import { embedded } from './support/target.js'

const ALICE = { authorization: 'Bearer alice-key-1' }
const BOB = { 'x-api-key': 'bob-key-2' }

authSuite(embedded)

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
