/** `GET /`, `/health`, `/ready`, `/metrics`, `/docs`, `/openapi.json`. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  PLAYS_CSV,
  startService,
  submitCsv,
  type TestService,
  waitForJob,
} from './support/service.js'

let t: TestService

beforeAll(async () => {
  t = await startService()
})
afterAll(() => t.close())

describe('service routes', () => {
  it('GET / says the service runs (JSON), or a page for browsers', async () => {
    const json = await t.inject({ method: 'GET', url: '/' })
    expect(json.statusCode).toBe(200)
    expect(json.headers['content-type']).toMatch(/^application\/json/)
    expect(Object.keys(json.json())).toEqual(['message'])
    expect(json.json().message).toContain('running')
    const html = await t.inject({ method: 'GET', url: '/', headers: { accept: 'text/html,*/*' } })
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(html.body).toContain('<h1>tally</h1>')
    expect(html.headers['x-content-type-options']).toBe('nosniff')
  })

  it('GET /health and GET /ready', async () => {
    expect((await t.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' })
    expect((await t.inject({ method: 'GET', url: '/ready' })).json()).toEqual({
      status: 'ready',
      checks: { jobs: 'ok', storage: 'ok' },
    })
  })

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

  it('GET /openapi.json documents every route set, and /docs serves the UI', async () => {
    const doc = (await t.inject({ method: 'GET', url: '/openapi.json' })).json()
    expect(doc.openapi).toMatch(/^3\./)
    const paths = Object.keys(doc.paths)
    for (const path of [
      '/',
      '/health',
      '/ready',
      '/metrics',
      '/jobs',
      '/jobs/{job_id}',
      '/jobs/{job_id}/events',
      '/jobs/{job_id}/result',
      '/jobs/{job_id}/rejects',
      '/job_statuses/{job_id}',
      '/results/{file_name}',
      '/process_csv',
      '/result/{task_id}',
      '/api/upload_file',
      '/api/file_status/{job_id}',
      '/api/download_file/{job_id}',
      '/jobs/count/',
      '/jobs/{job_id}/result/',
      '/api/process_csv',
      '/api/download_csv/{task_id}',
    ]) {
      expect(paths, path).toContain(path)
    }
    const upload = doc.paths['/jobs'].post
    expect(Object.keys(upload.requestBody.content)).toEqual(
      expect.arrayContaining(['multipart/form-data', 'text/csv', 'application/gzip']),
    )
    expect(upload.responses['202']).toBeDefined()
    expect(upload.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['order', 'on_error']),
    )
    const docs = await t.inject({ method: 'GET', url: '/docs/' })
    expect(docs.statusCode).toBe(200)
    expect(docs.headers['content-type']).toMatch(/^text\/html/)
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
