/** `GET /`, `/health`, `/ready`, `/docs`, `/openapi.json`. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Deployment, Target } from '../support/target.js'

export function serviceRoutesSuite(deployment: Deployment): void {
  describe(`service routes (${deployment.name})`, () => {
    let t: Target

    beforeAll(async () => {
      t = await deployment.start()
    })
    afterAll(() => t?.close())

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
  })
}
