/**
 * `GET /jobs/{id}/events` over a real socket: `progress` events while the job waits and runs,
 * then exactly one final `status` event, then the stream ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobView } from '../../../src/http/schemas/job-view.js'
import { PLAYS_CSV, songPlays, submitCsv } from '../support/service.js'
import type { Deployment, Target } from '../support/target.js'

interface ServerEvent {
  event: string
  data: JobView
}

function parseEvents(text: string): ServerEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const lines = block.split('\n')
      const event = lines.find((l) => l.startsWith('event: '))!.slice(7)
      const data = JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6))
      return { event, data }
    })
}

export function jobsEventsSuite(deployment: Deployment): void {
  describe(`GET /jobs/{job_id}/events (${deployment.name})`, () => {
    let t: Target

    beforeAll(async () => {
      t = await deployment.start({ held: true, env: { TALLY_THREADS: '1' } })
    })
    afterAll(() => t?.close())

    const events = (id: string) => fetch(`${t.url}/jobs/${id}/events`, { headers: t.headers })

    it('streams progress events, then one final status event, then ends', async () => {
      const id = (await submitCsv(t.inject, songPlays(150_000, 5))).job_id
      const response = await events(id)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
      const body = response.text()
      await new Promise((resolve) => setTimeout(resolve, 100))
      await t.release()
      const received = parseEvents(await body)
      const last = received.at(-1)!
      expect(last.event).toBe('status')
      expect(last.data).toMatchObject({
        job_id: id,
        status: 'succeeded',
        progress: { percent: 100 },
      })
      const progress = received.slice(0, -1)
      expect(progress.length).toBeGreaterThanOrEqual(2)
      expect(progress.every((e) => e.event === 'progress')).toBe(true)
      expect(progress[0]!.data.status).toBe('queued')
      expect(progress.some((e) => e.data.status === 'running')).toBe(true)
      // Progress only moves forward.
      const done = progress.map((e) => e.data.progress.bytes_done)
      expect(done).toEqual([...done].sort((a, b) => a - b))
    })

    it('sends a finished job its status event at once and ends', async () => {
      const id = (await submitCsv(t.inject, PLAYS_CSV)).job_id
      const deadline = Date.now() + 10_000
      let received: ServerEvent[] = []
      while (Date.now() < deadline) {
        received = parseEvents(await (await events(id)).text())
        if (received.length === 1 && received[0]!.event === 'status') break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(received).toHaveLength(1)
      expect(received[0]).toMatchObject({ event: 'status', data: { status: 'succeeded' } })
    })

    it('ends with a canceled status event when the job is canceled while it runs', async () => {
      const id = (await submitCsv(t.inject, songPlays(150_000, 6))).job_id
      const response = await events(id)
      expect(response.status).toBe(200)
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      let text = ''
      let canceled = false
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        text += value
        const seen = parseEvents(text.slice(0, text.lastIndexOf('\n\n') + 2))
        if (!canceled && seen.some((e) => e.data.status === 'running')) {
          canceled = true
          const answer = await t.inject({ method: 'DELETE', url: `/jobs/${id}` })
          expect(answer.json().status).toBe('canceled')
        }
      }
      expect(canceled).toBe(true)
      const received = parseEvents(text)
      expect(received.at(-1)).toMatchObject({ event: 'status', data: { status: 'canceled' } })
      expect(received.filter((e) => e.event === 'status')).toHaveLength(1)
    })

    it('answers 404 problem+json for an unknown job', async () => {
      const response = await events('job_aaaaaaaaaaaaaaaaaaaaaaaa')
      expect(response.status).toBe(404)
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    })
  })
}
