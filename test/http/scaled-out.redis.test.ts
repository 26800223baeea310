/**
 * tally scaled out, as deployed: a real `redis-server`, a real S3-compatible server (s3rver),
 * one `tally serve` process (which only queues) and two `tally worker` processes, all configured
 * by the environment alone and driven over real HTTP (support/scaled-out.ts).
 *
 * The whole HTTP flow runs here: every shared suite of `suites/` (the same ones the embedded
 * test files run), each with its own API keys on the one API process. Then what only this
 * deployment has: the API never runs jobs, both workers run at once, and every process shuts
 * down cleanly on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSongPlays } from '../../src/cli/generate-data.js'
import type { JobView } from '../../src/http/schemas/job-view.js'
import { DESIGN_INPUT, DESIGN_OUTPUT } from '../support/design-example.js'
import { authSuite } from './suites/auth.js'
import { compatDropzoneSuite } from './suites/compat-c-dropzone.js'
import { compatRoutesSuite } from './suites/compat-routes.js'
import { jobsConcurrentSuite } from './suites/jobs-concurrent.js'
import { jobsEventsSuite } from './suites/jobs-events.js'
import { jobsLimitsSuite } from './suites/jobs-limits.js'
import { jobsReadSuite } from './suites/jobs-read.js'
import { jobsResultSuite } from './suites/jobs-result.js'
import { jobsSubmitSuite } from './suites/jobs-submit.js'
import { serviceRoutesSuite } from './suites/service-routes.js'
import { tusSuite } from './suites/tus.js'
import { scaledOut } from './support/scaled-out.js'
import { engineOutput, submitCsv, waitForJob } from './support/service.js'
import type { Target } from './support/target.js'

const JOB_TIMEOUT_MS = 30_000

// The suites' uploads stay under 5 MB (the large ones: about 4.3 MB).
const deployment = scaledOut({ maxUploadBytes: 5_000_000 })

beforeAll(() => deployment.boot(), 90_000)
afterAll(() => deployment.stop(), 60_000)

describe('tally scaled out (API + 2 workers, Redis, S3)', () => {
  it('the API says it only queues jobs in Redis mode', () => {
    expect(deployment.api.output()).toContain('this process only queues them')
  })

  it('runs the DESIGN.md example to the exact output', async () => {
    const t = await deployment.start()
    const id = (await submitCsv(t.inject, DESIGN_INPUT)).job_id
    expect((await waitForJob(t.inject, id)).status).toBe('succeeded')
    const result = await t.inject({ method: 'GET', url: `/jobs/${id}/result` })
    expect(result.statusCode).toBe(200)
    expect(result.body).toBe(DESIGN_OUTPUT)
  })
})

serviceRoutesSuite(deployment)
jobsSubmitSuite(deployment, { bigRows: 150_000 })
jobsReadSuite(deployment)
jobsResultSuite(deployment, { runningRows: 150_000 })
jobsEventsSuite(deployment)
jobsLimitsSuite(deployment)
jobsConcurrentSuite(deployment)
authSuite(deployment)
compatRoutesSuite(deployment)
compatDropzoneSuite(deployment)
tusSuite(deployment)

describe('tally scaled out: the workers run the jobs', () => {
  let t: Target
  let big: Buffer
  let bigTotals: Buffer

  beforeAll(async () => {
    t = await deployment.start()
    big = await generate()
    bigTotals = await engineOutput(big)
  })

  it('runs jobs on both workers at once (one each), never in the API, every result exact', async () => {
    const ids = await Promise.all(
      Array.from({ length: 4 }, async () => (await submitCsv(t.inject, big)).job_id),
    )
    // Each worker runs one job at a time: two running at once means both workers work; more
    // than two would mean the API runs jobs too.
    let mostRunning = 0
    const deadline = Date.now() + JOB_TIMEOUT_MS
    for (;;) {
      const page = (await t.inject({ method: 'GET', url: '/jobs?limit=100' })).json<{
        jobs: JobView[]
      }>()
      const ours = page.jobs.filter((job) => ids.includes(job.job_id))
      mostRunning = Math.max(mostRunning, ours.filter((job) => job.status === 'running').length)
      if (ours.every((job) => job.status === 'succeeded')) break
      expect(ours.some((job) => job.status === 'failed' || job.status === 'canceled')).toBe(false)
      if (Date.now() > deadline) throw new Error('jobs did not finish in time')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(mostRunning).toBe(2)
    for (const id of ids) {
      const result = await t.inject({ method: 'GET', url: `/jobs/${id}/result` })
      expect(result.rawPayload.equals(bigTotals)).toBe(true)
    }
  })

  it('shuts down cleanly on SIGTERM: the API and both workers exit with status 0', async () => {
    await deployment.stopProcesses()
    for (const made of [deployment.api, ...deployment.workers]) {
      expect(made.child.exitCode, made.output()).toBe(0)
    }
  })
})

async function generate(): Promise<Buffer> {
  const chunks: Buffer[] = []
  await generateSongPlays({ rows: 100_000, songs: 5_000, days: 365, seed: 11 }, (chunk) => {
    chunks.push(Buffer.from(chunk))
  })
  return Buffer.concat(chunks)
}
