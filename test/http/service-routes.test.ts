/**
 * `GET /`, `/health`, `/ready`, `/docs`, `/openapi.json` against the embedded service
 * (suites/service-routes.ts); `/metrics` counts and `/ready` failing, which need a service of
 * their own (exact counts; a job store closed under it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serviceRoutesSuite } from './suites/service-routes.js'
import {
  PLAYS_CSV,
  startService,
  submitCsv,
  type TestService,
  waitForJob,
} from './support/service.js'
import { embedded } from './support/target.js'

serviceRoutesSuite(embedded)

let t: TestService

beforeAll(async () => {
  t = await startService()
})
afterAll(() => t.close())

describe('service routes', () => {
  it('GET /metrics: jobs by status, rows and bytes, job duration, HTTP latency', async () => {
    const id = (await submitCsv(t.inject, PLAYS_CSV)).job_id
    await waitForJob(t.inject, id)
    const response = await t.inject({ method: 'GET', url: '/metrics' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/plain/)
    const text = response.body
    expect(text).toContain('tally_jobs{status="succeeded"} 1')
    expect(text).toContain('tally_jobs{status="queued"} 0')
    expect(text).toContain('tally_rows_processed_total 7')
    expect(text).toContain(`tally_bytes_processed_total ${PLAYS_CSV.length}`)
    expect(text).toContain('tally_job_duration_seconds_count{status="succeeded"} 1')
    expect(text).toMatch(
      /tally_http_request_duration_seconds_count\{method="POST",route="\/jobs",status_code="202"\} 1/,
    )
    expect(text).toMatch(/route="\/jobs\/:job_id"/)
    expect(text).toContain('process_cpu_user_seconds_total')
  })

  it('GET /ready answers 503 NOT_READY when the job store is gone', async () => {
    await t.service.jobs.close()
    const response = await t.inject({ method: 'GET', url: '/ready' })
    expect(response.statusCode).toBe(503)
    expect(response.json()).toMatchObject({
      code: 'NOT_READY',
      checks: { jobs: 'failed', storage: 'ok' },
    })
    expect(response.json().detail).toBe('cannot reach: jobs')
  })
})
