/**
 * tally scaled out, as deployed: a real `redis-server`, a real S3-compatible server (s3rver),
 * one `tally serve` process (which only queues) and two `tally worker` processes, all configured
 * by the environment alone and driven over real HTTP. Results are byte-identical to the engine's
 * `aggregate()` on the same bytes, through the primary API and a compat route set; the API
 * streams SSE events of a job a worker runs.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSongPlays } from '../../src/cli/generate-data.js'
import type { JobView } from '../../src/http/schemas/job-view.js'
import { DESIGN_INPUT, DESIGN_OUTPUT } from '../support/design-example.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js'
import { spawnTied } from '../support/tied-process.js'
import { engineOutput } from './support/service.js'

const root = resolve(import.meta.dirname, '../..')
const BUCKET = 'tally'
const START_TIMEOUT_MS = 30_000
const JOB_TIMEOUT_MS = 20_000

interface TallyProcess {
  readonly name: string
  readonly child: ChildProcess
  output(): string
  readonly exited: Promise<void>
}

let redis: RedisServer | undefined
let s3: S3Server | undefined
let dir: string
let api: TallyProcess
const workers: TallyProcess[] = []
const processes: TallyProcess[] = []
let baseUrl: string
let big: Buffer
let bigTotals: Buffer

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-scaled-out-'))
  const [redisServer, s3Server, generated] = await Promise.all([
    startRedisServer(),
    startS3Server(),
    generate(),
  ])
  redis = redisServer
  s3 = s3Server
  big = generated
  await s3.createBucket(BUCKET)
  bigTotals = await engineOutput(big)

  const port = await freePort()
  baseUrl = `http://127.0.0.1:${port}`
  const env = (name: string): NodeJS.ProcessEnv => ({
    ...process.env,
    REDIS_URL: redisServer.url,
    TALLY_STORAGE: `s3://${BUCKET}/scaled-out`,
    TALLY_S3_ENDPOINT: s3Server.endpoint,
    TALLY_S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    TALLY_S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    TALLY_DATA_DIR: join(dir, name),
    TALLY_HOST: '127.0.0.1',
    TALLY_PORT: String(port),
    TALLY_THREADS: '1',
    TALLY_CONCURRENCY: '1',
    TALLY_LOG_LEVEL: 'info',
  })
  api = start('api', ['serve', '--grace', '1'], env('api'))
  workers.push(start('worker-1', ['worker', '--grace', '1'], env('worker-1')))
  workers.push(start('worker-2', ['worker', '--grace', '1'], env('worker-2')))
  await Promise.all([
    waitForOutput(api, 'tally is serving'),
    ...workers.map((worker) => waitForOutput(worker, 'tally worker is taking jobs')),
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all(processes.map(stop))
  await redis?.stop()
  await s3?.stop()
  await rm(dir, { recursive: true, force: true })
}, 30_000)

describe('tally scaled out (API + 2 workers, Redis, S3)', () => {
  it('the API says it only queues jobs in Redis mode', () => {
    expect(api.output()).toContain('this process only queues them')
  })

  it('runs the DESIGN.md example to the exact output (POST /jobs, GET /jobs/{id}/result)', async () => {
    expect((await engineOutput(Buffer.from(DESIGN_INPUT))).toString()).toBe(DESIGN_OUTPUT)
    const id = await submit(DESIGN_INPUT)
    const view = await waitForJob(id)
    expect(view.status).toBe('succeeded')
    const result = await fetch(`${baseUrl}/jobs/${id}/result`)
    expect(result.status).toBe(200)
    expect(Buffer.from(await result.arrayBuffer()).toString()).toBe(DESIGN_OUTPUT)
  })

  it('streams SSE events from the API while a worker runs a job of a few MB, then serves its exact result', async () => {
    expect(big.byteLength).toBeGreaterThan(3_000_000)
    const id = await submit(big)
    const response = await fetch(`${baseUrl}/jobs/${id}/events`, {
      signal: AbortSignal.timeout(JOB_TIMEOUT_MS),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = parseEvents(await response.text())
    expect(events.length).toBeGreaterThanOrEqual(2)
    const final = events.at(-1)!
    expect(final.event).toBe('status')
    expect(final.data.status).toBe('succeeded')
    expect(events.slice(0, -1).every((e) => e.event === 'progress')).toBe(true)
    // Seen while a worker ran it: the API hears the worker's changes through Redis.
    expect(events.some((e) => e.data.status === 'running')).toBe(true)

    const result = await fetch(`${baseUrl}/jobs/${id}/result`)
    expect(result.status).toBe(200)
    expect(Buffer.from(await result.arrayBuffer()).equals(bigTotals)).toBe(true)
  })

  it('runs jobs on both workers at once (one each), never in the API, every result exact', async () => {
    const ids = await Promise.all(Array.from({ length: 4 }, () => submit(big)))
    // Each worker runs one job at a time: two running at once means both workers work; more
    // than two would mean the API runs jobs too.
    let mostRunning = 0
    const deadline = Date.now() + JOB_TIMEOUT_MS
    for (;;) {
      const page = (await (await fetch(`${baseUrl}/jobs?limit=100`)).json()) as { jobs: JobView[] }
      const ours = page.jobs.filter((job) => ids.includes(job.job_id))
      mostRunning = Math.max(mostRunning, ours.filter((job) => job.status === 'running').length)
      if (ours.every((job) => job.status === 'succeeded')) break
      expect(ours.some((job) => job.status === 'failed' || job.status === 'canceled')).toBe(false)
      if (Date.now() > deadline) throw new Error('jobs did not finish in time')
      await sleep(20)
    }
    expect(mostRunning).toBe(2)
    for (const id of ids) {
      const result = await fetch(`${baseUrl}/jobs/${id}/result`)
      expect(Buffer.from(await result.arrayBuffer()).equals(bigTotals)).toBe(true)
    }
  })

  it('serves compat set B (POST /process_csv, GET /result/{task_id}) through the workers', async () => {
    const form = new FormData()
    form.append('file', new Blob([DESIGN_INPUT], { type: 'text/csv' }), 'plays.csv')
    const posted = await fetch(`${baseUrl}/process_csv`, { method: 'POST', body: form })
    expect(posted.status).toBe(202)
    const { task_id: taskId } = (await posted.json()) as { task_id: string }
    const deadline = Date.now() + JOB_TIMEOUT_MS
    for (;;) {
      const response = await fetch(`${baseUrl}/result/${taskId}`)
      expect(response.status).toBe(200)
      if (response.headers.get('content-type')?.startsWith('text/csv')) {
        expect(await response.text()).toBe(DESIGN_OUTPUT)
        break
      }
      const { state } = (await response.json()) as { state: string }
      expect(['PENDING', 'STARTED']).toContain(state)
      if (Date.now() > deadline) throw new Error(`task ${taskId} still ${state}`)
      await sleep(100)
    }
  })

  it('shuts down cleanly on SIGTERM: the API and both workers exit with status 0', async () => {
    await Promise.all(processes.map(stop))
    for (const made of processes) expect(made.child.exitCode, made.output()).toBe(0)
  })
})

async function generate(): Promise<Buffer> {
  const chunks: Buffer[] = []
  await generateSongPlays({ rows: 150_000, songs: 5_000, days: 365, seed: 11 }, (chunk) => {
    chunks.push(Buffer.from(chunk))
  })
  return Buffer.concat(chunks)
}

function start(name: string, args: string[], env: NodeJS.ProcessEnv): TallyProcess {
  const child = spawnTied(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const collect = (chunk: Buffer) => {
    output += chunk.toString()
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  const made: TallyProcess = { name, child, output: () => output, exited }
  processes.push(made)
  return made
}

async function waitForOutput(process: TallyProcess, text: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!process.output().includes(text)) {
    if (process.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`${process.name} did not start:\n${process.output()}`)
    }
    await sleep(50)
  }
}

/** SIGTERM (drain), then SIGKILL if it does not exit within a few seconds. */
async function stop(process: TallyProcess): Promise<void> {
  const { child } = process
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await process.exited
  clearTimeout(timer)
}

async function submit(content: Buffer | string): Promise<string> {
  const response = await fetch(`${baseUrl}/jobs`, {
    method: 'POST',
    body: content,
    headers: { 'content-type': 'text/csv' },
  })
  expect(response.status).toBe(202)
  return ((await response.json()) as { job_id: string }).job_id
}

async function waitForJob(id: string): Promise<JobView> {
  const deadline = Date.now() + JOB_TIMEOUT_MS
  for (;;) {
    const view = (await (await fetch(`${baseUrl}/jobs/${id}`)).json()) as JobView
    if (['succeeded', 'failed', 'canceled'].includes(view.status)) return view
    if (Date.now() > deadline) throw new Error(`job ${id} still ${view.status}`)
    await sleep(100)
  }
}

function parseEvents(text: string): { event: string; data: JobView }[] {
  return text
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => !line.startsWith(':')))
    .filter((lines) => lines.length > 0 && lines.some((line) => line.startsWith('event: ')))
    .map((lines) => ({
      event: lines.find((line) => line.startsWith('event: '))!.slice('event: '.length),
      data: JSON.parse(
        lines.find((line) => line.startsWith('data: '))!.slice('data: '.length),
      ) as JobView,
    }))
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => done(port))
    })
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms))
}
