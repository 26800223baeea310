/**
 * Downloads: `GET /jobs/{id}/result` and `/rejects` (attachment names, Range and If-Range, gzip,
 * 409 while not finished, 409 for failed or canceled jobs, 410 once expired), and
 * `DELETE /jobs/{id}` (cancel a queued or a running job, delete a finished one).
 */
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  engineOutput,
  PLAYS_CSV,
  PLAYS_TOTALS,
  songPlays,
  submitCsv,
  waitForJob,
} from '../support/service.js'
import type { Deployment, Target } from '../support/target.js'

export interface JobsResultSettings {
  /** Rows of a file whose job runs long enough to be canceled while it runs. */
  runningRows: number
}

export function jobsResultSuite(deployment: Deployment, { runningRows }: JobsResultSettings): void {
  describe(`results and deletes (${deployment.name})`, () => {
    let t: Target
    let queuedId: string
    let doneId: string
    let data: Buffer
    let totals: Buffer

    beforeAll(async () => {
      t = await deployment.start({ held: true })
      queuedId = (await submitCsv(t.inject, PLAYS_CSV)).job_id
      data = songPlays(20_000, 3)
      totals = await engineOutput(data)
    })
    afterAll(() => t?.close())

    describe('while a job is queued', () => {
      it('answers 409 JOB_NOT_FINISHED with the job view', async () => {
        for (const kind of ['result', 'rejects']) {
          const response = await t.inject({ method: 'GET', url: `/jobs/${queuedId}/${kind}` })
          expect(response.statusCode).toBe(409)
          expect(response.json()).toMatchObject({
            code: 'JOB_NOT_FINISHED',
            job: { job_id: queuedId, status: 'queued' },
          })
        }
      })

      it('DELETE cancels it: 200 with the canceled job view; its result is then 409 JOB_CANCELED', async () => {
        const response = await t.inject({ method: 'DELETE', url: `/jobs/${queuedId}` })
        expect(response.statusCode).toBe(200)
        expect(response.json()).toMatchObject({ job_id: queuedId, status: 'canceled' })
        const result = await t.inject({ method: 'GET', url: `/jobs/${queuedId}/result` })
        expect(result.statusCode).toBe(409)
        expect(result.json().code).toBe('JOB_CANCELED')
      })
    })

    describe('once the job succeeded', () => {
      beforeAll(async () => {
        await t.release()
        doneId = (await submitCsv(t.inject, data)).job_id
        const view = await waitForJob(t.inject, doneId)
        expect(view.status).toBe('succeeded')
      })

      it('sends the CSV as an attachment named after the upload', async () => {
        const response = await t.inject({ method: 'GET', url: `/jobs/${doneId}/result` })
        expect(response.statusCode).toBe(200)
        expect(response.headers['content-type']).toBe('text/csv; charset=utf-8')
        expect(response.headers['content-disposition']).toBe(
          `attachment; filename="plays-totals.csv"; filename*=UTF-8''plays-totals.csv`,
        )
        expect(response.headers['accept-ranges']).toBe('bytes')
        expect(Number(response.headers['content-length'])).toBe(totals.length)
        expect(response.rawPayload.equals(totals)).toBe(true)
      })

      it('serves byte ranges: first-last, first-, suffix; 416 past the end', async () => {
        const url = `/jobs/${doneId}/result`
        const size = totals.length
        const cases: [string, number, number][] = [
          ['bytes=0-99', 0, 99],
          ['bytes=100-', 100, size - 1],
          ['bytes=-50', size - 50, size - 1],
          [`bytes=10-${size + 1000}`, 10, size - 1],
        ]
        for (const [range, start, end] of cases) {
          const response = await t.inject({ method: 'GET', url, headers: { range } })
          expect(response.statusCode, range).toBe(206)
          expect(response.headers['content-range']).toBe(`bytes ${start}-${end}/${size}`)
          expect(response.rawPayload.equals(totals.subarray(start, end + 1))).toBe(true)
        }
        const beyond = await t.inject({ method: 'GET', url, headers: { range: `bytes=${size}-` } })
        expect(beyond.statusCode).toBe(416)
        expect(beyond.headers['content-range']).toBe(`bytes */${size}`)
        expect(beyond.json().code).toBe('RANGE_NOT_SATISFIABLE')
        // Several ranges are not supported: the whole file, as the RFC allows.
        const multi = await t.inject({ method: 'GET', url, headers: { range: 'bytes=0-1,5-6' } })
        expect(multi.statusCode).toBe(200)
        // A stale If-Range validator: the whole file.
        const stale = await t.inject({
          method: 'GET',
          url,
          headers: { range: 'bytes=0-1', 'if-range': '"old"' },
        })
        expect(stale.statusCode).toBe(200)
      })

      it('gives a stable ETag and Last-Modified; If-Range with the current ETag gets the range', async () => {
        const url = `/jobs/${doneId}/result`
        const first = await t.inject({ method: 'GET', url })
        const etag = first.headers.etag as string
        expect(etag).toMatch(/^(W\/)?".+"$/)
        expect(Date.parse(first.headers['last-modified'] as string)).not.toBeNaN()
        expect((await t.inject({ method: 'GET', url })).headers.etag).toBe(etag)
        const resumed = await t.inject({
          method: 'GET',
          url,
          headers: { range: 'bytes=100-', 'if-range': etag },
        })
        expect(resumed.statusCode).toBe(206)
        expect(resumed.rawPayload.equals(totals.subarray(100))).toBe(true)
      })

      it('gzips when the client accepts it and asked for no range', async () => {
        const url = `/jobs/${doneId}/result`
        const gz = await t.inject({
          method: 'GET',
          url,
          headers: { 'accept-encoding': 'br, gzip;q=0.8' },
        })
        expect(gz.statusCode).toBe(200)
        expect(gz.headers['content-encoding']).toBe('gzip')
        expect(gunzipSync(gz.rawPayload).equals(totals)).toBe(true)
        const refused = await t.inject({
          method: 'GET',
          url,
          headers: { 'accept-encoding': 'gzip;q=0' },
        })
        expect(refused.headers['content-encoding']).toBeUndefined()
        const ranged = await t.inject({
          method: 'GET',
          url,
          headers: { 'accept-encoding': 'gzip', range: 'bytes=0-9' },
        })
        expect(ranged.statusCode).toBe(206)
        expect(ranged.headers['content-encoding']).toBeUndefined()
      })

      it('lists rejected rows as CSV', async () => {
        const csv = `${PLAYS_CSV}Umbrella,2020-02-30,5\n,2020-01-01,1\n`
        const id = (await submitCsv(t.inject, csv)).job_id
        const view = await waitForJob(t.inject, id)
        expect(view.result).toMatchObject({ rows_read: 9, rows_rejected: 2 })
        expect(view.links.rejects).toBe(`/jobs/${id}/rejects`)
        const result = await t.inject({ method: 'GET', url: `/jobs/${id}/result` })
        expect(result.body).toBe(PLAYS_TOTALS)
        const rejects = await t.inject({ method: 'GET', url: `/jobs/${id}/rejects` })
        expect(rejects.statusCode).toBe(200)
        expect(rejects.headers['content-disposition']).toContain('plays-rejects.csv')
        const lines = rejects.body.trim().split('\n')
        expect(lines[0]).toBe('Line,Code,Column,Reason,Raw Row')
        expect(lines[1]).toMatch(/^9,CSV_BAD_DATE,Date,/)
        expect(lines[2]).toMatch(/^10,CSV_EMPTY_VALUE,Song,/)
      })

      it('a job failed by on_error=fail: error with line, result 409 JOB_FAILED', async () => {
        const csv = `${PLAYS_CSV}Umbrella,2020-01-01,lots\n`
        const id = (await submitCsv(t.inject, csv, { on_error: 'fail' })).job_id
        const view = await waitForJob(t.inject, id)
        expect(view).toMatchObject({
          status: 'failed',
          error: { code: 'CSV_BAD_NUMBER', line: 9, column: 'Number of Plays' },
          links: { result: null },
        })
        const result = await t.inject({ method: 'GET', url: `/jobs/${id}/result` })
        expect(result.statusCode).toBe(409)
        expect(result.json()).toMatchObject({ code: 'JOB_FAILED', job: { status: 'failed' } })
      })

      // The retention sweep is run with a date in the future: the embedded backend's own call.
      it.runIf(deployment.name === 'embedded')(
        'answers 410 once the retention period removed the files',
        async () => {
          const service = t.service!
          const id = (await submitCsv(t.inject, PLAYS_CSV)).job_id
          await waitForJob(t.inject, id)
          const later = new Date(Date.now() + (service.config.resultTtlSeconds + 60) * 1000)
          expect(await service.jobs.sweepExpired(later)).toBeGreaterThan(0)
          const view = (await t.inject({ method: 'GET', url: `/jobs/${id}` })).json()
          expect(view.expired_at).toEqual(expect.any(String))
          expect(view.links.result).toBeNull()
          for (const kind of ['result', 'rejects']) {
            const response = await t.inject({ method: 'GET', url: `/jobs/${id}/${kind}` })
            expect(response.statusCode).toBe(410)
            expect(response.json().code).toBe('RESULT_EXPIRED')
          }
        },
      )

      it('answers 410 when its files are gone from the storage behind its back', async () => {
        const csv = `${PLAYS_CSV}Umbrella,2020-02-30,5\n`
        const id = (await submitCsv(t.inject, csv)).job_id
        expect((await waitForJob(t.inject, id)).status).toBe('succeeded')
        for (const kind of ['result', 'rejects']) {
          const url = `/jobs/${id}/${kind}`
          expect((await t.inject({ method: 'GET', url })).statusCode).toBe(200)
          const key = `${kind === 'result' ? 'results' : 'rejects'}/${id}.csv`
          expect(await t.storedFiles()).toContain(key)
          await t.removeStoredFile(key)
          const response = await t.inject({ method: 'GET', url })
          expect(response.statusCode, response.body).toBe(410)
          expect(response.json().code).toBe('RESULT_EXPIRED')
        }
      })

      it('DELETE of a finished job deletes it: 204, then 404', async () => {
        const id = (await submitCsv(t.inject, PLAYS_CSV)).job_id
        await waitForJob(t.inject, id)
        const before = await t.storedFiles()
        expect(before.some((key) => key.includes(id))).toBe(true)
        const response = await t.inject({ method: 'DELETE', url: `/jobs/${id}` })
        expect(response.statusCode).toBe(204)
        expect(response.body).toBe('')
        expect((await t.inject({ method: 'GET', url: `/jobs/${id}` })).statusCode).toBe(404)
        expect((await t.inject({ method: 'GET', url: `/jobs/${id}/result` })).statusCode).toBe(404)
        expect((await t.inject({ method: 'DELETE', url: `/jobs/${id}` })).statusCode).toBe(404)
        // Its files are gone from the storage.
        expect((await t.storedFiles()).filter((key) => key.includes(id))).toEqual([])
      })
    })

    describe('while a job runs', () => {
      it('DELETE cancels it: 200 canceled; it stays canceled with no result, a second DELETE deletes it, the next job runs', async () => {
        const id = (await submitCsv(t.inject, songPlays(runningRows, 9))).job_id
        await waitForJob(t.inject, id, ['running', 'succeeded', 'failed', 'canceled'])
        const response = await t.inject({ method: 'DELETE', url: `/jobs/${id}` })
        expect(response.statusCode, response.body).toBe(200)
        expect(response.json()).toMatchObject({ job_id: id, status: 'canceled' })
        // Whoever ran it stops; it never turns into a result.
        await new Promise((resolve) => setTimeout(resolve, 1_000))
        const view = (await t.inject({ method: 'GET', url: `/jobs/${id}` })).json()
        expect(view).toMatchObject({ status: 'canceled', result: null })
        const result = await t.inject({ method: 'GET', url: `/jobs/${id}/result` })
        expect(result.statusCode).toBe(409)
        expect(result.json().code).toBe('JOB_CANCELED')
        // No result was stored; a second DELETE deletes the canceled job and whatever it left.
        const left = (await t.storedFiles()).filter((key) => key.includes(id))
        expect(left.filter((key) => !key.startsWith('uploads/'))).toEqual([])
        expect((await t.inject({ method: 'DELETE', url: `/jobs/${id}` })).statusCode).toBe(204)
        expect((await t.storedFiles()).filter((key) => key.includes(id))).toEqual([])
        expect((await t.inject({ method: 'GET', url: `/jobs/${id}` })).statusCode).toBe(404)
        const next = (await submitCsv(t.inject, PLAYS_CSV)).job_id
        expect((await waitForJob(t.inject, next)).status).toBe('succeeded')
      })
    })
  })
}
