/**
 * Issue #6, faults 3: `tally serve` (embedded mode, with its built-in worker) SIGKILLed at
 * random moments, 20 times and more within 90 s, restarted on the same data directory each
 * time, while a client keeps submitting jobs, following them and downloading results.
 *
 * At the end, every job the client got a 202 for exists exactly once, succeeded, and its
 * result is byte-exact (the engine's own output for that input); so does every job the server
 * accepted while the client never heard the answer (cut by a kill: the client then sends the
 * file again, as a real one would). While the kills go on, no accepted job is ever missing
 * (404) and no download that completes is ever anything but the exact result.
 *
 * TALLY_MAX_ATTEMPTS is raised: a job interrupted by 3 crashes is otherwise failed on purpose
 * (a job that kills its process must not loop forever), and random kills are not its fault.
 * The seed is printed; TALLY_FAULTS_SEED=<n> replays a run's choices.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { json, listAllJobs, send, submitRaw, waitFinal } from './support/client.js'
import { engineOutput, plays } from './support/data.js'
import {
  buildServe,
  filesUnder,
  freePort,
  type ServeBuild,
  type ServeProcess,
  startServe,
  storedJobs,
} from './support/serve-process.js'

const MIN_KILLS = 20
const TARGET_KILLS = 24
const LOOP_BUDGET_MS = 90_000
const JOBS = 30

interface Input {
  index: number
  csv: Buffer
  order: 'first_seen' | 'sorted'
  expected: Buffer
}

let serve: ServeBuild
let dataDir: string
let inputs: Input[]
let current: ServeProcess | undefined

/** mulberry32: small, seeded, good enough to pick moments. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const seed = Number(process.env.TALLY_FAULTS_SEED ?? Date.now() % 1_000_000)
const rand = random(seed)
const between = (low: number, high: number) => Math.floor(low + rand() * (high - low))

beforeAll(async () => {
  serve = await buildServe()
  dataDir = await mkdtemp(join(tmpdir(), 'tally-faults-loop-'))
  inputs = []
  for (let index = 0; index < JOBS; index++) {
    // Mostly small files, every fifth one a few MB: long enough to be killed mid-run.
    const rows = index % 5 === 0 ? between(100_000, 160_000) : between(500, 20_000)
    const csv = plays(rows, 1000 + index)
    const order = index % 3 === 0 ? 'sorted' : 'first_seen'
    inputs.push({ index, csv, order, expected: await engineOutput(csv, { order }) })
  }
}, 120_000)

afterAll(async () => {
  await current?.kill()
  await serve?.remove()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

it(`survives ${MIN_KILLS}+ random SIGKILLs: every accepted job once, succeeded, exact`, async () => {
  const port = await freePort()
  const start = () =>
    startServe(serve.main, {
      dataDir,
      port,
      env: { TALLY_CONCURRENCY: '2', TALLY_MAX_ATTEMPTS: '100' },
    }).then((server) => {
      current = server
      return server
    })

  /** Job id -> input, for every 202 the client received. */
  const accepted = new Map<string, Input>()
  /** file_name of every submission -> input (to recognise jobs whose 202 was lost). */
  const sentNames = new Map<string, Input>()
  const pending: Input[] = [...inputs]
  const violations: string[] = []
  const verified = new Set<string>()
  let submissions = 0
  let cutSubmissions = 0
  let downloadsChecked = 0

  async function submitNext(url: string): Promise<void> {
    const input = pending.shift()
    if (!input) return
    const name = `job-${input.index}-try-${++submissions}.csv`
    sentNames.set(name, input)
    try {
      const answer = await submitRaw(url, input.csv, `file_name=${name}&order=${input.order}`)
      if (answer.status === 202) {
        accepted.set(json<{ job_id: string }>(answer).job_id, input)
        return
      }
      violations.push(`submit ${name}: ${answer.status} ${answer.body}`)
    } catch {
      cutSubmissions++
      pending.push(input) // No answer: send it again later, as a client would.
    }
  }

  async function checkOne(url: string): Promise<void> {
    const ids = [...accepted.keys()].filter((id) => !verified.has(id))
    if (ids.length === 0) return
    const id = ids[between(0, ids.length)]!
    try {
      const view = await send(`${url}/jobs/${id}`)
      if (view.status === 404) violations.push(`accepted job ${id} not found`)
      if (view.status !== 200) return
      const status = json<{ status: string }>(view).status
      if (status === 'failed' || status === 'canceled') violations.push(`job ${id} ${status}`)
      const result = await send(`${url}/jobs/${id}/result`)
      if (result.status === 200) {
        downloadsChecked++
        if (!result.body.equals(accepted.get(id)!.expected)) {
          violations.push(`job ${id}: a complete download that is not the exact result`)
        }
        verified.add(id)
      } else if (result.status !== 409) {
        violations.push(`job ${id} result: ${result.status}`)
      }
    } catch {
      // The server was killed under this request: nothing to conclude.
    }
  }

  /** What a client does between two kills: submits, follows, downloads. Stops when told. */
  async function client(url: string, stop: { now: boolean }): Promise<void> {
    while (!stop.now) {
      if (pending.length > 0 && rand() < 0.6) await submitNext(url)
      else await checkOne(url)
      await sleep(between(5, 60))
    }
  }

  const loopStart = Date.now()
  let kills = 0
  const startupMs: number[] = []
  while (kills < TARGET_KILLS && Date.now() - loopStart < LOOP_BUDGET_MS) {
    const before = Date.now()
    const server = await start()
    startupMs.push(Date.now() - before)
    const stop = { now: false }
    const clients = [client(server.url, stop), client(server.url, stop)]
    await sleep(between(150, 1500))
    await server.kill()
    kills++
    stop.now = true
    await Promise.all(clients)
  }
  const loopMs = Date.now() - loopStart

  // The last start: no more kills. Whatever was not accepted yet is sent now.
  const final = await start()
  for (let tries = 0; pending.length > 0 && tries < JOBS * 2; tries++) await submitNext(final.url)
  expect(pending).toEqual([])
  const drainStart = Date.now()
  for (const id of accepted.keys()) await waitFinal(final.url, id, 180_000)
  const jobs = await listAllJobs(final.url)
  for (let i = accepted.size; i > 0; i--) await checkOne(final.url)
  const drainMs = Date.now() - drainStart

  // Every accepted job exactly once, succeeded, byte-exact.
  const ids = jobs.map((job) => job.job_id)
  expect(new Set(ids).size).toBe(ids.length)
  for (const [id, input] of accepted) {
    const job = jobs.find((view) => view.job_id === id)
    expect(job, `accepted job ${id} is missing`).toBeDefined()
    expect(job!.status).toBe('succeeded')
    const result = await send(`${final.url}/jobs/${id}/result`)
    expect(result.status).toBe(200)
    expect(result.body.equals(input.expected), `result of ${id}`).toBe(true)
  }
  // Jobs the server accepted while the client never heard it: as good as the others.
  const unanswered = jobs.filter((job) => !accepted.has(job.job_id))
  for (const job of unanswered) {
    const input = sentNames.get(job.file_name)
    expect(input, `job ${job.job_id} from an unknown upload ${job.file_name}`).toBeDefined()
    expect((await waitFinal(final.url, job.job_id, 180_000)).status).toBe('succeeded')
    const result = await send(`${final.url}/jobs/${job.job_id}/result`)
    expect(result.body.equals(input!.expected)).toBe(true)
  }
  expect(violations).toEqual([])
  expect(kills).toBeGreaterThanOrEqual(MIN_KILLS)
  // Every input made it into at least one job; the uploads of finished jobs are all deleted.
  expect(new Set([...accepted.values()].map((input) => input.index)).size).toBe(JOBS)
  // Leftovers of the kills. Uploads of finished jobs are removed at start; an upload stored by
  // a process killed before it queued the job (no 202) is an orphan, removed 10 minutes later
  // (sweepUploads). Temporary files of the store whose writer died are removed at start; the
  // engine's own temporaries (no writer tag) keep the one-hour age rule.
  const files = filesUnder(join(dataDir, 'files'))
  const jobIds = new Set(ids)
  const uploads = files.filter((path) => path.startsWith('uploads/') && !path.endsWith('.partial'))
  expect(uploads.filter((path) => jobIds.has(path.slice('uploads/'.length)))).toEqual([])
  const orphans = uploads.length
  const temps = files.filter((path) => path.endsWith('.partial'))
  expect(temps.filter((path) => !path.includes('.tally-'))).toEqual([])
  const engineTemps = temps.length
  await final.kill()
  current = undefined
  const stored = storedJobs(dataDir)
  const interrupted = stored.filter((job) => job.attempts > 1).length
  const maxAttempts = Math.max(...stored.map((job) => job.attempts))

  const average = Math.round(startupMs.reduce((a, b) => a + b, 0) / startupMs.length)
  console.log(
    `[faults] kill loop (seed ${seed}): ${kills} SIGKILLs in ${(loopMs / 1000).toFixed(1)} s, ` +
      `${accepted.size} jobs accepted (202) + ${unanswered.length} accepted unanswered, ` +
      `${submissions} submissions (${cutSubmissions} cut), ${jobs.length} jobs in all, ` +
      `all succeeded byte-exact; ${interrupted} jobs interrupted and re-run (max ${maxAttempts} attempts); ` +
      `${downloadsChecked} downloads checked; restart to listening ${average} ms on average; ` +
      `drain after the last start ${(drainMs / 1000).toFixed(1)} s; left: ${orphans} orphan ` +
      `uploads (no job, no 202), ${engineTemps} engine temporaries`,
  )
}, 400_000)
