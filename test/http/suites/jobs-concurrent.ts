/**
 * Many clients at once over real HTTP: 50 concurrent uploads of different files (multipart and
 * raw), every job succeeds with its own exact output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobView } from '../../../src/http/schemas/job-view.js'
import { engineOutput, songPlays } from '../support/service.js'
import type { Deployment, Target } from '../support/target.js'

const UPLOADS = 50

export function jobsConcurrentSuite(deployment: Deployment): void {
  describe(`concurrent uploads (${deployment.name})`, () => {
    let t: Target

    beforeAll(async () => {
      t = await deployment.start({ env: { TALLY_THREADS: '1', TALLY_CONCURRENCY: '2' } })
    })
    afterAll(() => t?.close())

    async function submit(index: number, content: Buffer): Promise<string> {
      let response: Response
      if (index % 2 === 0) {
        const form = new FormData()
        form.set('order', index % 4 === 0 ? 'sorted' : 'first_seen')
        form.set('file', new Blob([content], { type: 'text/csv' }), `plays-${index}.csv`)
        response = await fetch(`${t.url}/jobs`, { method: 'POST', body: form, headers: t.headers })
      } else {
        response = await fetch(`${t.url}/jobs?file_name=plays-${index}.csv`, {
          method: 'POST',
          body: content,
          headers: { ...t.headers, 'content-type': 'text/csv' },
        })
      }
      expect(response.status, await response.clone().text()).toBe(202)
      return ((await response.json()) as { job_id: string }).job_id
    }

    /** The jobs' views once all finished: one list request a round (not one per job). */
    async function finished(ids: string[]): Promise<JobView[]> {
      for (const deadline = Date.now() + 60_000; ; ) {
        const page = (await (
          await fetch(`${t.url}/jobs?limit=100`, { headers: t.headers })
        ).json()) as { jobs: JobView[] }
        const views = ids.map((id) => page.jobs.find((job) => job.job_id === id))
        if (
          views.every((view) => view && ['succeeded', 'failed', 'canceled'].includes(view.status))
        )
          return views as JobView[]
        if (Date.now() > deadline) throw new Error('the jobs did not finish in time')
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }

    it(`${UPLOADS} different files at once: each job gets its own exact output`, async () => {
      // Under the engine's in-process size (64 KiB): worker threads would only add start-up time.
      const files = Array.from({ length: UPLOADS }, (_, i) => songPlays(600 + i * 20, 100 + i))
      const ids = await Promise.all(files.map((content, i) => submit(i, content)))
      expect(new Set(ids).size).toBe(UPLOADS)
      const views = await finished(ids)
      expect(views.map((v) => v.status)).toEqual(Array(UPLOADS).fill('succeeded'))
      for (const [i, id] of ids.entries()) {
        const expected = await engineOutput(files[i]!, {
          order: i % 4 === 0 ? 'sorted' : 'first_seen',
        })
        const response = await fetch(`${t.url}/jobs/${id}/result`, { headers: t.headers })
        expect(response.headers.get('content-disposition')).toContain(`plays-${i}-totals.csv`)
        const body = Buffer.from(await response.arrayBuffer())
        expect(body.equals(expected), `upload ${i}`).toBe(true)
      }
    })
  })
}
