/**
 * `GET /jobs` (newest first, status filter, cursor pages), `GET /jobs/{job_id}`, and ids that
 * are unknown, malformed or try to leave their directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PLAYS_CSV, submitCsv, waitForJob } from '../support/service.js'
import type { Deployment, Target } from '../support/target.js'

export function jobsReadSuite(deployment: Deployment): void {
  describe(`reading jobs (${deployment.name})`, () => {
    let t: Target
    const ids: string[] = []

    beforeAll(async () => {
      // Jobs stay queued: the listing is tested on known statuses.
      t = await deployment.start({ held: true })
      for (let i = 0; i < 5; i++) ids.push((await submitCsv(t.inject, PLAYS_CSV)).job_id)
      const canceled = await t.inject({ method: 'DELETE', url: `/jobs/${ids[1]}` })
      expect(canceled.json().status).toBe('canceled')
    })
    afterAll(() => t?.close())

    describe('GET /jobs', () => {
      it('lists newest first, in pages joined by next_cursor', async () => {
        const first = await t.inject({ method: 'GET', url: '/jobs?limit=2' })
        expect(first.statusCode).toBe(200)
        const page1 = first.json()
        expect(page1.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([ids[4], ids[3]])
        expect(page1.next_cursor).toEqual(expect.any(String))
        const seen = [...page1.jobs]
        let cursor = page1.next_cursor
        while (cursor) {
          const page = (
            await t.inject({ method: 'GET', url: `/jobs?limit=2&cursor=${cursor}` })
          ).json()
          seen.push(...page.jobs)
          cursor = page.next_cursor
        }
        expect(seen.map((j) => j.job_id)).toEqual([...ids].reverse())
      })

      it('filters by status', async () => {
        const canceled = (await t.inject({ method: 'GET', url: '/jobs?status=canceled' })).json()
        expect(canceled.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([ids[1]])
        const queued = (await t.inject({ method: 'GET', url: '/jobs?status=queued' })).json()
        expect(queued.jobs).toHaveLength(4)
        const both = (
          await t.inject({ method: 'GET', url: '/jobs?status=canceled&status=queued' })
        ).json()
        expect(both.jobs).toHaveLength(5)
      })

      it('refuses a bad status, limit or cursor with 400', async () => {
        const status = await t.inject({ method: 'GET', url: '/jobs?status=done' })
        expect(status.statusCode).toBe(400)
        expect(status.json().code).toBe('VALIDATION_FAILED')
        const limit = await t.inject({ method: 'GET', url: '/jobs?limit=1000' })
        expect(limit.json().code).toBe('VALIDATION_FAILED')
        const cursor = await t.inject({ method: 'GET', url: '/jobs?cursor=bm9wZQ' })
        expect(cursor.statusCode).toBe(400)
        expect(cursor.json().code).toBe('INVALID_CURSOR')
      })
    })

    describe('GET /jobs/{job_id}', () => {
      it('shows the job view', async () => {
        const view = await waitForJob(t.inject, ids[0]!, ['queued'])
        expect(view).toMatchObject({
          job_id: ids[0],
          status: 'queued',
          started_at: null,
          finished_at: null,
          file_name: 'plays.csv',
          progress: {
            bytes_done: 0,
            bytes_total: PLAYS_CSV.length,
            rows: 0,
            percent: 0,
            phase: 'queued',
          },
          links: { self: `/jobs/${ids[0]}`, result: null, rejects: null },
        })
        expect(Date.parse(view.created_at)).not.toBeNaN()
      })

      it('answers 404 problem+json for unknown, malformed and traversal ids on every job route', async () => {
        const bad = [
          'job_aaaaaaaaaaaaaaaaaaaaaaaa',
          'nope',
          '..%2F..%2Fjobs.sqlite',
          'job_..%2Fuploads',
        ]
        for (const id of bad) {
          for (const suffix of ['', '/result', '/rejects', '/events']) {
            const response = await t.inject({ method: 'GET', url: `/jobs/${id}${suffix}` })
            expect(response.statusCode, `${id}${suffix}`).toBe(404)
            expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
            expect(response.json().code).toBe('JOB_NOT_FOUND')
          }
          const del = await t.inject({ method: 'DELETE', url: `/jobs/${id}` })
          expect(del.statusCode).toBe(404)
        }
      })

      it('answers 404 problem+json for an unknown route', async () => {
        const response = await t.inject({ method: 'GET', url: '/nothing/here' })
        expect(response.statusCode).toBe(404)
        expect(response.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND', status: 404 })
      })
    })
  })
}
