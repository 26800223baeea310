/**
 * tus uploads over real HTTP on 127.0.0.1: an upload cut off halfway resumes from the offset the
 * server reports and its job's output is the engine's own; unknown, unfinished and other keys'
 * uploads are refused. (Helpers: support/tus-client.ts.)
 */
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineOutput, PLAYS_CSV, songPlays } from '../support/service.js'
import type { Deployment, Target } from '../support/target.js'
import {
  createUpload,
  headOffset,
  json,
  patch,
  patchCutOff,
  resume,
  startJob,
  TUS,
  waitDone,
} from '../support/tus-client.js'

export function tusSuite(deployment: Deployment): void {
  describe(`tus uploads (${deployment.name})`, () => {
    let t: Target
    let key: Record<string, string>
    beforeAll(async () => {
      t = await deployment.start()
      key = { ...t.headers }
    })
    afterAll(async () => t?.close())

    it('resumes an upload cut off halfway, and its job output is exact', async () => {
      const csv = songPlays(40_000, 7)
      const id = await createUpload(t.url, csv.length, key)
      await patchCutOff(t.url, id, csv.subarray(0, csv.length >> 1), csv.length, key)

      // The server keeps what arrived; wait until the cut request is let go (its lock released).
      const offset = await resume(t.url, id, csv, key)
      expect(offset).toBeGreaterThan(0)
      expect(offset).toBeLessThan(csv.length)
      expect((await headOffset(t.url, id, key)).offset).toBe(csv.length)

      const response = await startJob(t.url, { upload_id: id, order: 'first_seen' }, key)
      expect(response.status, await response.clone().text()).toBe(202)
      const job = await json(response)
      const view = await waitDone(t.url, job.job_id, key)
      expect(view.status).toBe('succeeded')
      const result = Buffer.from(
        await (await fetch(`${t.url}/jobs/${job.job_id}/result`, { headers: key })).arrayBuffer(),
      )
      expect(result.equals(await engineOutput(csv, { order: 'first_seen' }))).toBe(true)

      // One upload, one job: the upload is gone.
      expect((await startJob(t.url, { upload_id: id }, key)).status).toBe(404)
    })

    it("takes a gzip upload, and its job output is the plain file's", async () => {
      const csv = songPlays(20_000, 3)
      const gz = gzipSync(csv)
      const id = await createUpload(t.url, gz.length, key)
      expect((await patch(t.url, id, 0, gz, key)).status).toBe(204)
      const response = await startJob(t.url, { upload_id: id, order: 'sorted' }, key)
      expect(response.status, await response.clone().text()).toBe(202)
      const job = await json(response)
      expect((await waitDone(t.url, job.job_id, key)).status).toBe('succeeded')
      const result = Buffer.from(
        await (await fetch(`${t.url}/jobs/${job.job_id}/result`, { headers: key })).arrayBuffer(),
      )
      expect(result.equals(await engineOutput(csv, { order: 'sorted' }))).toBe(true)
    })

    it('answers 404 for an unknown upload and 409 for an unfinished one', async () => {
      const unknown = await startJob(t.url, { upload_id: 'no-such-upload' }, key)
      expect(unknown.status).toBe(404)
      expect((await json(unknown)).code).toBe('UPLOAD_NOT_FOUND')
      expect((await headOffset(t.url, 'ffffffffffffffffffffffffffffffff', key)).status).toBe(404)

      const id = await createUpload(t.url, 100, key)
      const unfinished = await startJob(t.url, { upload_id: id }, key)
      expect(unfinished.status).toBe(409)
      expect((await json(unfinished)).code).toBe('UPLOAD_NOT_FINISHED')
    })

    it('refuses a finished upload without the required columns (422)', async () => {
      const csv = Buffer.from('Song,Date\nUmbrella,2020-01-01\n')
      const id = await createUpload(t.url, csv.length, key)
      expect((await patch(t.url, id, 0, csv, key)).status).toBe(204)
      const response = await startJob(t.url, { upload_id: id }, key)
      expect(response.status).toBe(422)
      expect((await json(response)).code).toBe('CSV_MISSING_COLUMNS')
    })

    it('terminates an upload (DELETE)', async () => {
      const id = await createUpload(t.url, 10, key)
      const deleted = await fetch(`${t.url}/uploads/${id}`, {
        method: 'DELETE',
        headers: { ...TUS, ...key },
      })
      expect(deleted.status).toBe(204)
      expect((await headOffset(t.url, id, key)).status).toBe(404)
    })
  })

  describe(`tus uploads with API keys (${deployment.name})`, () => {
    let t: Target
    let alice: Record<string, string>
    let bob: Record<string, string>
    beforeAll(async () => {
      t = await deployment.start({ auth: true })
      alice = { 'x-api-key': t.keys[0] }
      bob = { 'x-api-key': t.keys[1] }
    })
    afterAll(async () => t?.close())

    it('serves the web page without a key (the key is typed into it), not the JSON', async () => {
      const page = await fetch(`${t.url}/`, { headers: { accept: 'text/html' } })
      expect(page.status).toBe(200)
      expect(await page.text()).toContain('<title>')
      // Plain HTTP: a browser told to upgrade would fetch the scripts over HTTPS and fail.
      const csp = page.headers.get('content-security-policy') ?? ''
      expect(csp).toContain("script-src 'self'")
      expect(csp).not.toContain('upgrade-insecure-requests')
      expect((await fetch(`${t.url}/`)).status).toBe(401)
      expect((await fetch(`${t.url}/`, { headers: alice })).status).toBe(200)
    })

    it('needs a key, and keeps each upload to its key', async () => {
      const anonymous = await fetch(`${t.url}/uploads`, {
        method: 'POST',
        headers: { ...TUS, 'upload-length': '10' },
      })
      expect(anonymous.status).toBe(401)

      const csv = Buffer.from(PLAYS_CSV)
      const id = await createUpload(t.url, csv.length, alice)
      expect((await patch(t.url, id, 0, csv, bob)).status).toBe(404)
      expect((await headOffset(t.url, id, bob)).status).toBe(404)
      expect((await patch(t.url, id, 0, csv, alice)).status).toBe(204)
      expect((await startJob(t.url, { upload_id: id }, bob)).status).toBe(404)
      const started = await startJob(t.url, { upload_id: id }, alice)
      expect(started.status).toBe(202)
      const view = await waitDone(t.url, (await json(started)).job_id, alice)
      expect(view.status).toBe('succeeded')
    })
  })
}
