/**
 * The load of `npm run load` (bench/load.ts), short and small: about 5 seconds of concurrent
 * uploads, status polls and event streams against an in-process service on 127.0.0.1 (its rate
 * limiter on, set high as the load run sets it). No job may fail or be lost, every result must be
 * byte-identical to the reference aggregator's, and no request may fail. Timing is not checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoadReport, loadPassed, runLoad } from '../../bench/load.js'
import { startService, type TestService } from '../http/support/service.js'

let service: TestService
let report: LoadReport

beforeAll(async () => {
  service = await startService({
    listen: true,
    http: { rateLimit: { max: 1_000_000, timeWindowMs: 60_000 } },
  })
  report = await runLoad({
    url: service.url,
    durationMs: 5_000,
    connections: 8,
    pollers: 2,
    sseClients: 2,
    inputs: 50,
    seed: 7,
    settleTimeoutMs: 120_000,
  })
}, 240_000)

afterAll(async () => {
  await service?.close()
})

describe('load: concurrent uploads, polls and event streams', () => {
  it('accepts jobs of every upload kind and runs every client kind', () => {
    expect(report.jobs.submitted).toBeGreaterThan(0)
    expect(report.uploads.byMode.multipart).toBeGreaterThan(0)
    expect(report.latency.status.count).toBeGreaterThan(0)
    expect(report.sse.streams).toBeGreaterThan(0)
  })

  it('loses no job and fails none: every accepted job succeeded', () => {
    const { jobs } = report
    expect({
      failed: jobs.failed,
      canceled: jobs.canceled,
      lost: jobs.lost,
      problems: report.problems,
    }).toEqual({ failed: 0, canceled: 0, lost: 0, problems: [] })
    expect(jobs.succeeded).toBe(jobs.submitted)
  })

  it('gives every job the reference output, byte for byte', () => {
    expect(report.jobs.wrong).toBe(0)
  })

  it('answers every request (no errors, no refusals, every stream ends with "succeeded")', () => {
    expect(report.requests.errors).toBe(0)
    expect(report.uploads.refused).toEqual({})
    expect(report.sse.badFinal).toBe(0)
    expect(loadPassed(report)).toBe(true)
  })
})
