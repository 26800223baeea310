/**
 * `escape_formulas` over HTTP: a multipart field, a query parameter of a raw upload, a JSON
 * field (boolean or text) naming a tus upload, and a form field on a compat route. The job view
 * says whether it is on; the result and the rejects are escaped; a bad value is a 400
 * `INVALID_OPTION_ESCAPE_FORMULAS` problem before anything is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  multipart,
  startService,
  submitCsv,
  type TestService,
  waitForJob,
} from '../http/support/service.js'
import { tusUpload } from './support.js'

const CSV = [
  'Song,Date,Number of Plays',
  '=1+1,2020-01-01,5',
  '"+SUM(A1)",2020-01-01,1',
  '-x,2020-01-02,3',
  '@y,2020-01-02,3',
  'plain,2020-01-02,3',
  '"=a""b,c",2020-01-01,1',
  '=bad,2020-13-01,1',
  '',
].join('\n')

const ESCAPED = [
  'Song,Date,Total Number of Plays for Date',
  `"'=1+1",2020-01-01,5`,
  `"'+SUM(A1)",2020-01-01,1`,
  `"'-x",2020-01-02,3`,
  `"'@y",2020-01-02,3`,
  'plain,2020-01-02,3',
  `"'=a""b,c",2020-01-01,1`,
  '',
].join('\n')

const PLAIN = [
  'Song,Date,Total Number of Plays for Date',
  '=1+1,2020-01-01,5',
  '+SUM(A1),2020-01-01,1',
  '-x,2020-01-02,3',
  '@y,2020-01-02,3',
  'plain,2020-01-02,3',
  '"=a""b,c",2020-01-01,1',
  '',
].join('\n')

let t: TestService

beforeAll(async () => {
  t = await startService({ listen: true })
})
afterAll(() => t.close())

async function finished(
  id: string,
): Promise<{ result: string; rejects: string; view: Record<string, unknown> }> {
  const view = (await waitForJob(t.inject, id)) as unknown as Record<string, unknown>
  expect(view.status).toBe('succeeded')
  const result = await t.inject({ method: 'GET', url: `/jobs/${id}/result` })
  const rejects = await t.inject({ method: 'GET', url: `/jobs/${id}/rejects` })
  return { result: result.body, rejects: rejects.body, view }
}

describe('escape_formulas', () => {
  it('is off by default: the job view says false and values are written as they are', async () => {
    const job = await submitCsv(t.inject, CSV)
    expect(job.options).toMatchObject({ escape_formulas: false })
    const { result, rejects } = await finished(job.job_id)
    expect(result).toBe(PLAIN)
    expect(rejects).toContain('\n8,CSV_BAD_DATE,Date,')
    expect(rejects).toContain(',"=bad,2020-13-01,1"\n')
  })

  it('as a multipart field: the result and the rejects are escaped', async () => {
    const job = await submitCsv(t.inject, CSV, { escape_formulas: 'true' })
    expect(job.options).toMatchObject({ escape_formulas: true })
    const { result, rejects, view } = await finished(job.job_id)
    expect(view.options).toMatchObject({ escape_formulas: true })
    expect(result).toBe(ESCAPED)
    expect(rejects).toContain(`,"'=bad,2020-13-01,1"\n`)
  })

  it('as a query parameter of a raw upload (and of a multipart one)', async () => {
    const raw = await t.inject({
      method: 'POST',
      url: '/jobs?escape_formulas=true',
      headers: { 'content-type': 'text/csv' },
      payload: CSV,
    })
    expect(raw.statusCode).toBe(202)
    expect((await finished(raw.json().job_id)).result).toBe(ESCAPED)

    const form = multipart({}, [{ field: 'file', name: 'a.csv', content: CSV }])
    const viaQuery = await t.inject({
      method: 'POST',
      url: '/jobs?escape_formulas=true',
      ...form,
    })
    expect(viaQuery.statusCode).toBe(202)
    expect((await finished(viaQuery.json().job_id)).result).toBe(ESCAPED)

    const off = await t.inject({
      method: 'POST',
      url: '/jobs?escape_formulas=false',
      headers: { 'content-type': 'text/csv' },
      payload: CSV,
    })
    expect((await finished(off.json().job_id)).result).toBe(PLAIN)
  })

  it('as a JSON field naming a tus upload: a boolean or its text', async () => {
    for (const value of [true, 'true']) {
      const uploadId = await tusUpload(t.url, CSV)
      const response = await fetch(`${t.url}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ upload_id: uploadId, escape_formulas: value }),
      })
      expect(response.status).toBe(202)
      const body = (await response.json()) as { job_id: string; options: unknown }
      expect(body.options).toMatchObject({ escape_formulas: true })
      expect((await finished(body.job_id)).result).toBe(ESCAPED)
    }
  })

  it('as a form field of the earlier clients’ routes (set B)', async () => {
    const form = multipart({ escape_formulas: 'true' }, [
      { field: 'file', name: 'a.csv', content: CSV },
    ])
    const response = await t.inject({ method: 'POST', url: '/process_csv', ...form })
    expect(response.statusCode).toBe(202)
    expect((await finished(response.json().task_id)).result).toBe(ESCAPED)
  })

  it('refuses a value that is not true or false with a 400 naming it, storing nothing', async () => {
    const answers = [
      await t.inject({
        method: 'POST',
        url: '/jobs?escape_formulas=maybe',
        headers: { 'content-type': 'text/csv' },
        payload: CSV,
      }),
      await t.inject({
        method: 'POST',
        url: '/jobs',
        ...multipart({ escape_formulas: 'maybe' }, [
          { field: 'file', name: 'a.csv', content: CSV },
        ]),
      }),
      await t.inject({
        method: 'POST',
        url: '/jobs',
        ...multipart({}, [{ field: 'file', name: 'a.csv', content: CSV }], { filesFirst: true }),
        query: { escape_formulas: 'maybe' },
      }),
    ]
    const uploadId = await tusUpload(t.url, CSV)
    for (const value of ['maybe', 5, null, { a: 1 }]) {
      const response = await fetch(`${t.url}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ upload_id: uploadId, escape_formulas: value }),
      })
      const body = (await response.json()) as { code: string; detail: string; status: number }
      expect(response.status, JSON.stringify(value)).toBe(400)
      expect(response.headers.get('content-type')).toContain('application/problem+json')
      expect(body.code).toBe('INVALID_OPTION_ESCAPE_FORMULAS')
    }
    for (const answer of answers) {
      expect(answer.statusCode, answer.body).toBe(400)
      expect(answer.headers['content-type']).toContain('application/problem+json')
      expect(answer.json()).toMatchObject({
        code: 'INVALID_OPTION_ESCAPE_FORMULAS',
        status: 400,
        detail: expect.stringMatching(
          /escape_formulas must be (true or false|one of true, false), got "maybe"/,
        ),
      })
    }
    // No job was made from the refused requests: the list holds the earlier tests' jobs only.
    const list = (await t.inject({ method: 'GET', url: '/jobs?limit=100' })).json()
    for (const job of list.jobs as { status: string }[]) expect(job.status).toBe('succeeded')
  })

  it('is in the OpenAPI document, for the query, the form and the job view', async () => {
    const doc = (await t.inject({ method: 'GET', url: '/openapi.json' })).json()
    const text = JSON.stringify(doc)
    expect(text).toContain('escape_formulas')
    const post = doc.paths['/jobs'].post
    const names = (post.parameters as { name: string }[]).map((p) => p.name)
    expect(names).toContain('escape_formulas')
  })
})
