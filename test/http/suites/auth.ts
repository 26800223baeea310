/**
 * API keys: every route but the public ones needs a key (Bearer or X-API-Key); a key sees only
 * its own jobs, on the primary and the compat routes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { multipart, PLAYS_CSV, submitCsv, waitForJob } from '../support/service.js'
import type { Deployment, Target } from '../support/target.js'

export function authSuite(deployment: Deployment): void {
  describe(`with API keys (${deployment.name})`, () => {
    let t: Target
    let alice: Record<string, string>
    let bob: Record<string, string>
    let aliceJob: string

    beforeAll(async () => {
      t = await deployment.start({ auth: true })
      alice = { authorization: `Bearer ${t.keys[0]}` }
      bob = { 'x-api-key': t.keys[1] }
      aliceJob = (await submitCsv(t.inject, PLAYS_CSV, {}, alice)).job_id
      await waitForJob(t.inject, aliceJob, undefined, alice)
    })
    afterAll(() => t?.close())

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
        ['DELETE', `/jobs/${aliceJob}`],
        ['GET', `/job_statuses/${aliceJob}`],
        ['POST', '/process_csv'],
        ['POST', '/api/upload_file'],
        ['GET', `/jobs/${aliceJob}/result/`],
        ['GET', `/api/download_csv/${aliceJob}`],
      ] as const
      const wrong: Record<string, string>[] = [
        {},
        { authorization: 'Bearer nope' },
        { 'x-api-key': t.keys[0].slice(0, -1) },
      ]
      for (const [method, url] of routes) {
        for (const headers of wrong) {
          const response = await t.inject({ method, url, headers })
          expect(response.statusCode, `${method} ${url}`).toBe(401)
          expect(response.headers['www-authenticate']).toBe('Bearer')
          expect(response.json().code).toBe('UNAUTHORIZED')
        }
      }
    })

    it('lets a key see its own jobs only: 404 for the others, on every route set', async () => {
      expect(
        (await t.inject({ method: 'GET', url: `/jobs/${aliceJob}`, headers: alice })).statusCode,
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
        const response = await t.inject({ method: 'GET', url, headers: bob })
        expect(response.statusCode, url).toBe(404)
      }
      expect(
        (await t.inject({ method: 'DELETE', url: `/jobs/${aliceJob}`, headers: bob })).statusCode,
      ).toBe(404)
      const bobList = (await t.inject({ method: 'GET', url: '/jobs', headers: bob })).json()
      expect(bobList.jobs).toEqual([])
      const aliceList = (await t.inject({ method: 'GET', url: '/jobs', headers: alice })).json()
      expect(aliceList.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([aliceJob])
      // Still there for its owner.
      const result = await t.inject({
        method: 'GET',
        url: `/jobs/${aliceJob}/result`,
        headers: alice,
      })
      expect(result.statusCode).toBe(200)
    })

    it('accepts uploads on compat routes under the key, owned by it', async () => {
      const form = multipart({}, [{ field: 'file', name: 'a.csv', content: PLAYS_CSV }])
      const response = await t.inject({
        method: 'POST',
        url: '/process_csv',
        payload: form.payload,
        headers: { ...form.headers, ...bob },
      })
      expect(response.statusCode).toBe(202)
      const id = response.json().task_id
      expect((await t.inject({ method: 'GET', url: `/jobs/${id}`, headers: bob })).statusCode).toBe(
        200,
      )
      expect(
        (await t.inject({ method: 'GET', url: `/jobs/${id}`, headers: alice })).statusCode,
      ).toBe(404)
    })
  })
}
