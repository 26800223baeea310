/**
 * Limits with clear answers. The upload size limit (413) and a client going away mid-upload run
 * against the embedded service here (suites/jobs-limits.ts); queue full (503 + Retry-After) and
 * not enough disk (507) need settings only the in-process service takes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jobsLimitsSuite } from './suites/jobs-limits.js'
import {
  multipart,
  PLAYS_CSV,
  startService,
  submitCsv,
  type TestService,
} from './support/service.js'
import { embedded } from './support/target.js'

async function storedUploads(t: TestService): Promise<string[]> {
  const keys: string[] = []
  for await (const key of t.service.storage.list('uploads/')) keys.push(key)
  return keys
}

jobsLimitsSuite(embedded)

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
