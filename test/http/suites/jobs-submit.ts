/**
 * `POST /jobs`: multipart, raw body and gzip uploads end in results byte-identical to the
 * engine's; bad uploads are refused before a job exists, with the right code.
 */
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  engineOutput,
  multipart,
  PLAYS_CSV,
  PLAYS_TOTALS,
  songPlays,
  submitCsv,
  waitForJob,
} from '../support/service.js'
import type { Deployment, Target } from '../support/target.js'

export interface JobsSubmitSettings {
  /** Rows of the generated large file (about 30 bytes a row). */
  bigRows: number
}

export function jobsSubmitSuite(deployment: Deployment, { bigRows }: JobsSubmitSettings): void {
  describe(`POST /jobs (${deployment.name})`, () => {
    let t: Target
    let big: Buffer
    let bigTotals: Buffer

    beforeAll(async () => {
      t = await deployment.start()
      big = songPlays(bigRows, 7)
      bigTotals = await engineOutput(big)
    })
    afterAll(() => t?.close())

    async function resultOf(id: string): Promise<Buffer> {
      const view = await waitForJob(t.inject, id)
      expect(view.status, JSON.stringify(view.error)).toBe('succeeded')
      return (await t.inject({ method: 'GET', url: `/jobs/${id}/result` })).rawPayload
    }

    async function jobCount(): Promise<number> {
      return (await t.inject({ method: 'GET', url: '/jobs' })).json().jobs.length
    }

    describe('POST /jobs accepts', () => {
      it('a multipart upload: 202, Location, the job view and the earlier fields', async () => {
        const form = multipart({}, [{ field: 'file', name: 'plays.csv', content: PLAYS_CSV }])
        const response = await t.inject({ method: 'POST', url: '/jobs', ...form })
        expect(response.statusCode).toBe(202)
        const body = response.json()
        expect(response.headers.location).toBe(`/jobs/${body.job_id}`)
        expect(body).toMatchObject({
          success: true,
          job_id: expect.stringMatching(/^job_[a-z2-7]{24}$/),
          status: 'queued',
          file_name: 'plays.csv',
          file_bytes: PLAYS_CSV.length,
          options: {
            order: 'first_seen',
            on_error: 'skip',
            group_by: ['Song', 'Date'],
            sum: 'Number of Plays',
          },
          progress: { bytes_done: 0, bytes_total: PLAYS_CSV.length, percent: 0 },
          result: null,
          error: null,
          links: { self: `/jobs/${body.job_id}`, events: `/jobs/${body.job_id}/events` },
          output_file_path: `/results/${body.job_id}.csv`,
        })
        expect((await resultOf(body.job_id)).toString()).toBe(PLAYS_TOTALS)
      })

      it('a large generated file by multipart, byte-identical to the engine', async () => {
        const body = await submitCsv(t.inject, big)
        expect((await resultOf(body.job_id)).equals(bigTotals)).toBe(true)
        const view = await waitForJob(t.inject, body.job_id)
        expect(view.result).toMatchObject({
          rows_read: bigRows,
          rows_rejected: 0,
          output_bytes: bigTotals.length,
        })
        expect(view.progress).toMatchObject({ percent: 100, bytes_done: big.length })
      })

      it('a raw text/csv body with options in the query', async () => {
        const response = await t.inject({
          method: 'POST',
          url: '/jobs?order=sorted&file_name=weekly.csv',
          payload: big,
          headers: { 'content-type': 'text/csv' },
        })
        expect(response.statusCode).toBe(202)
        const body = response.json()
        expect(body.options.order).toBe('sorted')
        expect(body.file_name).toBe('weekly.csv')
        const expected = await engineOutput(big, { order: 'sorted' })
        expect((await resultOf(body.job_id)).equals(expected)).toBe(true)
      })

      it('an application/gzip body, a Content-Encoding: gzip body and a .csv.gz form file', async () => {
        const gz = gzipSync(big)
        const asGzip = await t.inject({
          method: 'POST',
          url: '/jobs',
          payload: gz,
          headers: { 'content-type': 'application/gzip' },
        })
        const asEncoding = await t.inject({
          method: 'POST',
          url: '/jobs',
          payload: gz,
          headers: { 'content-type': 'text/csv', 'content-encoding': 'gzip' },
        })
        const form = multipart({}, [
          { field: 'file', name: 'plays.csv.gz', content: gz, type: 'application/gzip' },
        ])
        const asForm = await t.inject({ method: 'POST', url: '/jobs', ...form })
        for (const response of [asGzip, asEncoding, asForm]) {
          expect(response.statusCode, response.body).toBe(202)
          expect((await resultOf(response.json().job_id)).equals(bigTotals)).toBe(true)
        }
        expect(asForm.json().file_name).toBe('plays.csv.gz')
      })

      it('option fields before or after the file', async () => {
        const before = multipart({ order: 'sorted' }, [
          { field: 'file', name: 'a.csv', content: PLAYS_CSV },
        ])
        const after = multipart(
          { order: 'sorted' },
          [{ field: 'file', name: 'a.csv', content: PLAYS_CSV }],
          { filesFirst: true },
        )
        const sorted = await engineOutput(Buffer.from(PLAYS_CSV), { order: 'sorted' })
        for (const form of [before, after]) {
          const response = await t.inject({ method: 'POST', url: '/jobs', ...form })
          expect(response.statusCode, response.body).toBe(202)
          expect(response.json().options.order).toBe('sorted')
          expect((await resultOf(response.json().job_id)).equals(sorted)).toBe(true)
        }
      })

      it('group_by and sum for other columns', async () => {
        const csv = 'Artist,Day,Streams\nA,1,5\nB,1,2\nA,2,7\n'
        const form = multipart({ group_by: 'Artist', sum: 'Streams' }, [
          { field: 'file', name: 'streams.csv', content: csv },
        ])
        const response = await t.inject({ method: 'POST', url: '/jobs', ...form })
        expect(response.statusCode, response.body).toBe(202)
        expect((await resultOf(response.json().job_id)).toString()).toBe(
          'Artist,Total Streams\nA,12\nB,2\n',
        )
      })
    })

    describe('POST /jobs refuses', () => {
      it('a file without the required columns with 422 before a job exists', async () => {
        const before = await jobCount()
        const form = multipart({}, [
          { field: 'file', name: 'x.csv', content: 'Title,When,Count\nA,2020-01-01,1\n' },
        ])
        const response = await t.inject({ method: 'POST', url: '/jobs', ...form })
        expect(response.statusCode).toBe(422)
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
        const problem = response.json()
        expect(problem).toMatchObject({
          type: 'urn:tally:error:CSV_MISSING_COLUMNS',
          status: 422,
          code: 'CSV_MISSING_COLUMNS',
          line: 1,
          instance: '/jobs',
        })
        expect(problem.detail).toContain('"Song", "Date", "Number of Plays"')
        expect(problem.detail).toContain('found "Title","When","Count"')
        expect(await jobCount()).toBe(before)
      })

      it('a gzip file without the required columns (inspected after decompressing)', async () => {
        const response = await t.inject({
          method: 'POST',
          url: '/jobs',
          payload: gzipSync(Buffer.from('Song,Plays\nA,1\n')),
          headers: { 'content-type': 'application/gzip' },
        })
        expect(response.statusCode).toBe(422)
        expect(response.json().code).toBe('CSV_MISSING_COLUMNS')
      })

      it('columns named by group_by that the file lacks, even when the field comes after the file', async () => {
        const form = multipart(
          { group_by: 'Artist' },
          [{ field: 'file', name: 'a.csv', content: PLAYS_CSV }],
          { filesFirst: true },
        )
        const response = await t.inject({ method: 'POST', url: '/jobs', ...form })
        expect(response.statusCode).toBe(422)
        expect(response.json().detail).toContain('"Artist"')
      })

      it('an empty file, a binary file and damaged gzip with 422 and their codes', async () => {
        const cases: [Buffer, string][] = [
          [Buffer.alloc(0), 'CSV_EMPTY_FILE'],
          [Buffer.from('\n\n  \n'), 'CSV_EMPTY_FILE'],
          [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0]), 'CSV_NOT_TEXT'],
          [
            Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            'CSV_BAD_GZIP',
          ],
        ]
        for (const [content, code] of cases) {
          const response = await t.inject({
            method: 'POST',
            url: '/jobs',
            payload: content,
            headers: { 'content-type': 'text/csv' },
          })
          expect(response.statusCode, `${code}: ${response.body}`).toBe(422)
          expect(response.json().code).toBe(code)
        }
      })

      it('an unknown option value with 400 naming the allowed values (query and form field)', async () => {
        const query = await t.inject({
          method: 'POST',
          url: '/jobs?on_error=ignore',
          payload: PLAYS_CSV,
          headers: { 'content-type': 'text/csv' },
        })
        expect(query.statusCode).toBe(400)
        expect(query.json()).toMatchObject({
          code: 'INVALID_OPTION_ON_ERROR',
          detail: 'on_error must be one of skip, fail, got "ignore"',
        })
        const form = multipart({ order: 'random' }, [
          { field: 'file', name: 'a.csv', content: PLAYS_CSV },
        ])
        const field = await t.inject({ method: 'POST', url: '/jobs', ...form })
        expect(field.statusCode).toBe(400)
        expect(field.json().code).toBe('INVALID_OPTION_ORDER')
        expect(field.json().detail).toContain('first_seen, sorted')
      })

      it('a form without the file field, and a body of another type', async () => {
        const form = multipart({}, [{ field: 'upload', name: 'a.csv', content: PLAYS_CSV }])
        const missing = await t.inject({ method: 'POST', url: '/jobs', ...form })
        expect(missing.statusCode).toBe(400)
        expect(missing.json().code).toBe('FILE_MISSING')
        // JSON names a tus upload now (suites/tus.ts); XML is of no known type.
        const xml = await t.inject({
          method: 'POST',
          url: '/jobs',
          payload: '<csv/>',
          headers: { 'content-type': 'application/xml' },
        })
        expect(xml.statusCode).toBe(415)
        expect(xml.json().code).toBe('UNSUPPORTED_MEDIA_TYPE')
      })
    })
  })
}
