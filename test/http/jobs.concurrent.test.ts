/**
 * Many clients at once over real HTTP: 50 concurrent uploads of different files (multipart and
 * raw), every job succeeds with its own exact output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineOutput, songPlays, startService, type TestService } from './support/service.js'

const UPLOADS = 50

let t: TestService

beforeAll(async () => {
  t = await startService({ listen: true, env: { TALLY_THREADS: '1', TALLY_CONCURRENCY: '2' } })
})
afterAll(() => t.close())

async function submit(index: number, content: Buffer): Promise<string> {
  let response: Response
  if (index % 2 === 0) {
    const form = new FormData()
    form.set('order', index % 4 === 0 ? 'sorted' : 'first_seen')
    form.set('file', new Blob([content], { type: 'text/csv' }), `plays-${index}.csv`)
    response = await fetch(`${t.url}/jobs`, { method: 'POST', body: form })
  } else {
    response = await fetch(`${t.url}/jobs?file_name=plays-${index}.csv`, {
      method: 'POST',
      body: content,
      headers: { 'content-type': 'text/csv' },
    })
  }
  expect(response.status, await response.clone().text()).toBe(202)
  return ((await response.json()) as { job_id: string }).job_id
}

async function finished(id: string): Promise<{ status: string }> {
  for (;;) {
    const view = (await (await fetch(`${t.url}/jobs/${id}`)).json()) as { status: string }
    if (['succeeded', 'failed', 'canceled'].includes(view.status)) return view
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('concurrent uploads', () => {
  it(`${UPLOADS} different files at once: each job gets its own exact output`, async () => {
    // Under the engine's in-process size (64 KiB): worker threads would only add start-up time.
    const files = Array.from({ length: UPLOADS }, (_, i) => songPlays(600 + i * 20, 100 + i))
    const ids = await Promise.all(files.map((content, i) => submit(i, content)))
    expect(new Set(ids).size).toBe(UPLOADS)
    const views = await Promise.all(ids.map(finished))
    expect(views.map((v) => v.status)).toEqual(Array(UPLOADS).fill('succeeded'))
    for (const [i, id] of ids.entries()) {
      const expected = await engineOutput(files[i]!, {
        order: i % 4 === 0 ? 'sorted' : 'first_seen',
      })
      const response = await fetch(`${t.url}/jobs/${id}/result`)
      expect(response.headers.get('content-disposition')).toContain(`plays-${i}-totals.csv`)
      const body = Buffer.from(await response.arrayBuffer())
      expect(body.equals(expected), `upload ${i}`).toBe(true)
    }
  })
})
