/**
 * `GET /jobs/{id}/events` over a real socket: `progress` events while the job waits and runs,
 * then exactly one final `status` event, then the stream ends.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobView } from '../../src/http/schemas/job-view.js'
import {
  PLAYS_CSV,
  songPlays,
  startService,
  submitCsv,
  type TestService,
} from './support/service.js'

let t: TestService

beforeAll(async () => {
  t = await startService({ listen: true, startJobs: false, env: { TALLY_THREADS: '1' } })
})
afterAll(() => t.close())

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

describe('GET /jobs/{job_id}/events', () => {
  it('streams progress events, then one final status event, then ends', async () => {
    const id = (await submitCsv(t.inject, songPlays(150_000, 5))).job_id
    const response = await fetch(`${t.url}/jobs/${id}/events`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const body = response.text()
    await new Promise((resolve) => setTimeout(resolve, 100))
    await t.service.startJobs()
    const events = parseEvents(await body)
    const last = events.at(-1)!
    expect(last.event).toBe('status')
    expect(last.data).toMatchObject({ job_id: id, status: 'succeeded', progress: { percent: 100 } })
    const progress = events.slice(0, -1)
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
    let events: ServerEvent[] = []
    while (Date.now() < deadline) {
      events = parseEvents(await (await fetch(`${t.url}/jobs/${id}/events`)).text())
      if (events.length === 1 && events[0]!.event === 'status') break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ event: 'status', data: { status: 'succeeded' } })
  })

  it('answers 404 problem+json for an unknown job', async () => {
    const response = await fetch(`${t.url}/jobs/job_aaaaaaaaaaaaaaaaaaaaaaaa/events`)
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  })
})
