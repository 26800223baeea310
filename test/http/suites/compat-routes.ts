/**
 * The earlier versions' routes (sets A to E): the full flow of each, with the exact JSON shapes,
 * status words and content types their clients read. Jobs are held in the queue first (to see
 * the waiting answers), then run.
 */
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  multipart,
  PLAYS_CSV,
  PLAYS_TOTALS,
  songPlays,
  submitCsv,
  waitForJob,
} from '../support/service.js'
import type { Deployment, Reply, Target } from '../support/target.js'

const BAD = 'Song,Date,Number of Plays\nA,2020-01-01,x\n'

export function compatRoutesSuite(deployment: Deployment): void {
  describe(`compat routes A to E (${deployment.name})`, () => {
    let t: Target
    const ids: Record<string, string> = {}

    async function upload(
      url: string,
      field: string,
      content = PLAYS_CSV,
      fields: Record<string, string> = {},
    ) {
      const form = multipart(fields, [{ field, name: 'plays.csv', content }])
      return t.inject({ method: 'POST', url, ...form })
    }

    beforeAll(async () => {
      t = await deployment.start({ held: true })
    })
    afterAll(() => t?.close())

    describe('submitting', () => {
      it('A: POST /jobs returns output_file_path', async () => {
        const response = await upload('/jobs', 'file')
        expect(response.statusCode).toBe(202)
        const body = response.json()
        expect(body.success).toBe(true)
        ids.a = body.job_id
        expect(body.output_file_path.split('/').at(-1)).toBe(`${body.job_id}.csv`)
      })

      it('B: POST /process_csv -> {"task_id"}', async () => {
        const response = await upload('/process_csv', 'file')
        expect(response.statusCode).toBe(202)
        expect(Object.keys(response.json())).toEqual(['task_id'])
        ids.b = response.json().task_id
        const failing = await upload('/process_csv', 'file', BAD, { on_error: 'fail' })
        ids.bFail = failing.json().task_id
      })

      it('C: POST /api/upload_file with the whole file (Dropzone without chunks)', async () => {
        const response = await upload('/api/upload_file', 'file')
        expect(response.statusCode).toBe(200)
        expect(response.json()).toEqual({
          message: 'File uploaded successfully',
          job_id: expect.any(String),
        })
        ids.c = response.json().job_id
      })

      it('D: POST /jobs/count/ -> {"jobId", "message"} (sic)', async () => {
        const response = await upload('/jobs/count/', 'file')
        expect(response.statusCode).toBe(202)
        expect(response.json()).toEqual({
          jobId: expect.any(String),
          message: 'file is being proccessed...',
        })
        ids.d = response.json().jobId
      })

      it('E: POST /api/process_csv (field input_file) -> {"task_id"}', async () => {
        const response = await upload('/api/process_csv', 'input_file')
        expect(response.statusCode).toBe(202)
        expect(Object.keys(response.json())).toEqual(['task_id'])
        ids.e = response.json().task_id
        const wrongField = await upload('/api/process_csv', 'file')
        expect(wrongField.statusCode).toBe(400)
        expect(wrongField.json().code).toBe('FILE_MISSING')
      })

      it('refuses a file without the required columns on every set with 422', async () => {
        for (const [url, field] of [
          ['/process_csv', 'file'],
          ['/api/upload_file', 'file'],
          ['/jobs/count/', 'file'],
          ['/api/process_csv', 'input_file'],
        ] as const) {
          const response = await upload(url, field, 'a,b\n1,2\n')
          expect(response.statusCode, url).toBe(422)
          expect(response.json().code).toBe('CSV_MISSING_COLUMNS')
        }
      })
    })

    describe('while the jobs wait', () => {
      it('A: {"job_id", "status": "pending"}', async () => {
        const response = await t.inject({ method: 'GET', url: `/job_statuses/${ids.a}` })
        expect(response.json()).toEqual({ job_id: ids.a, status: 'pending' })
      })

      it('B: {"state": "PENDING", "message"}', async () => {
        const response = await t.inject({ method: 'GET', url: `/result/${ids.b}` })
        expect(response.statusCode).toBe(200)
        expect(response.json()).toEqual({ state: 'PENDING', message: expect.any(String) })
      })

      it('C: {"job_status": "PENDING", "jod_id", "job_id"}; download is a 4xx JSON error', async () => {
        const status = await t.inject({ method: 'GET', url: `/api/file_status/${ids.c}` })
        expect(status.json()).toEqual({ job_status: 'PENDING', jod_id: ids.c, job_id: ids.c })
        const download = await t.inject({ method: 'GET', url: `/api/download_file/${ids.c}` })
        expect(download.statusCode).toBe(409)
        expect(download.json().detail).toContain('queued')
      })

      it('D: plain text "Job: queued"; the primary route without the slash is still JSON', async () => {
        const response = await t.inject({ method: 'GET', url: `/jobs/${ids.d}/result/` })
        expect(response.statusCode).toBe(200)
        expect(response.headers['content-type']).toBe('text/plain; charset=utf-8')
        expect(response.body).toBe('Job: queued')
        const primary = await t.inject({ method: 'GET', url: `/jobs/${ids.d}/result` })
        expect(primary.statusCode).toBe(409)
        expect(primary.headers['content-type']).toMatch(/^application\/problem\+json/)
      })

      it('E: {"status": "processing"}', async () => {
        const response = await t.inject({ method: 'GET', url: `/api/download_csv/${ids.e}` })
        expect(response.json()).toEqual({ status: 'processing' })
      })
    })

    describe('while a job runs', () => {
      it('every set says so in its words', async () => {
        await t.release()
        const id = (await submitCsv(t.inject, songPlays(150_000, 4))).job_id
        await waitForJob(t.inject, id, ['running', 'succeeded', 'failed', 'canceled'])
        const get = (url: string) => t.inject({ method: 'GET', url })
        const [a, b, c, d, e] = await Promise.all([
          get(`/job_statuses/${id}`),
          get(`/result/${id}`),
          get(`/api/file_status/${id}`),
          get(`/jobs/${id}/result/`),
          get(`/api/download_csv/${id}`),
        ])
        // Canceled at once: it was seen running, not finished, by all five.
        const canceled = await t.inject({ method: 'DELETE', url: `/jobs/${id}` })
        expect(canceled.json().status).toBe('canceled')
        expect(a.json()).toEqual({ job_id: id, status: 'processing' })
        expect(b.json()).toEqual({ state: 'STARTED', message: expect.any(String) })
        expect(c.json()).toEqual({ job_status: 'STARTED', jod_id: id, job_id: id })
        expect(d.body).toBe('Job: started')
        expect(e.json()).toEqual({ status: 'processing' })
      })
    })

    describe('once the jobs ran', () => {
      beforeAll(async () => {
        await t.release()
        for (const id of Object.values(ids)) await waitForJob(t.inject, id)
      })

      function expectCsv(response: Reply) {
        expect(response.statusCode).toBe(200)
        expect(response.headers['content-type']).toBe('text/csv; charset=utf-8')
        expect(response.headers['content-disposition']).toContain(
          'attachment; filename="plays-totals.csv"',
        )
        expect(response.body).toBe(PLAYS_TOTALS)
      }

      it('A: "completed" and the CSV at /results/{file_name}', async () => {
        const status = await t.inject({ method: 'GET', url: `/job_statuses/${ids.a}` })
        expect(status.json()).toEqual({ job_id: ids.a, status: 'completed' })
        expectCsv(await t.inject({ method: 'GET', url: `/results/${ids.a}.csv` }))
        const unknown = await t.inject({ method: 'GET', url: '/results/..%2Fjobs.sqlite' })
        expect(unknown.statusCode).toBe(404)
      })

      it('B: the CSV; a failed task is {"state": "FAILURE", "message"}', async () => {
        expectCsv(await t.inject({ method: 'GET', url: `/result/${ids.b}` }))
        const failed = await t.inject({ method: 'GET', url: `/result/${ids.bFail}` })
        expect(failed.json()).toEqual({
          state: 'FAILURE',
          message: expect.stringContaining('line 2'),
        })
        const unknown = await t.inject({
          method: 'GET',
          url: '/result/job_aaaaaaaaaaaaaaaaaaaaaaaa',
        })
        expect(unknown.statusCode).toBe(404)
        expect(unknown.json()).toMatchObject({ state: 'FAILURE', message: expect.any(String) })
      })

      it('C: "SUCCESS" and the CSV', async () => {
        const status = await t.inject({ method: 'GET', url: `/api/file_status/${ids.c}` })
        expect(status.json()).toEqual({ job_status: 'SUCCESS', jod_id: ids.c, job_id: ids.c })
        expectCsv(await t.inject({ method: 'GET', url: `/api/download_file/${ids.c}` }))
      })

      it('D: the CSV attachment; "Job not found." for an unknown id', async () => {
        expectCsv(await t.inject({ method: 'GET', url: `/jobs/${ids.d}/result/` }))
        const unknown = await t.inject({
          method: 'GET',
          url: '/jobs/job_aaaaaaaaaaaaaaaaaaaaaaaa/result/',
        })
        expect(unknown.statusCode).toBe(404)
        expect(unknown.headers['content-type']).toBe('text/plain; charset=utf-8')
        expect(unknown.body).toBe('Job not found.')
      })

      it('D: "Job: failed" for a failed job', async () => {
        const form = multipart({ on_error: 'fail' }, [
          { field: 'file', name: 'bad.csv', content: BAD },
        ])
        const id = (await t.inject({ method: 'POST', url: '/jobs/count/', ...form })).json().jobId
        await waitForJob(t.inject, id)
        expect((await t.inject({ method: 'GET', url: `/jobs/${id}/result/` })).body).toBe(
          'Job: failed',
        )
      })

      it("takes a gzip file on every set, and its result is the plain file's", async () => {
        const gz = gzipSync(Buffer.from(PLAYS_CSV))
        const sets = [
          { url: '/jobs', field: 'file', id: (b: Record<string, string>) => b.job_id! },
          { url: '/process_csv', field: 'file', id: (b: Record<string, string>) => b.task_id! },
          { url: '/api/upload_file', field: 'file', id: (b: Record<string, string>) => b.job_id! },
          { url: '/jobs/count/', field: 'file', id: (b: Record<string, string>) => b.jobId! },
          {
            url: '/api/process_csv',
            field: 'input_file',
            id: (b: Record<string, string>) => b.task_id!,
          },
        ]
        for (const set of sets) {
          const form = multipart({}, [
            { field: set.field, name: 'plays.csv.gz', content: gz, type: 'application/gzip' },
          ])
          const response = await t.inject({ method: 'POST', url: set.url, ...form })
          expect(response.statusCode, `${set.url}: ${response.body}`).toBeLessThan(300)
          const id = set.id(response.json())
          expect((await waitForJob(t.inject, id)).status).toBe('succeeded')
          const result = await t.inject({ method: 'GET', url: `/jobs/${id}/result` })
          expect(result.body, set.url).toBe(PLAYS_TOTALS)
        }
      })

      it('E: the CSV; a failed task is {"status": "failed", "message"}', async () => {
        expectCsv(await t.inject({ method: 'GET', url: `/api/download_csv/${ids.e}` }))
        const failed = await t.inject({ method: 'GET', url: `/api/download_csv/${ids.bFail}` })
        expect(failed.json()).toEqual({
          status: 'failed',
          message: expect.stringContaining('line 2'),
        })
      })
    })
  })
}
