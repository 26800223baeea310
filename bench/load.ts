/**
 * `npm run load`: the HTTP service under concurrent load, verified before reported.
 *
 *   npm run load -- [--duration 20] [--connections 32] [--pollers 8] [--sse 8]
 *                   [--inputs 200] [--settle 180] [--rate-limit 1000000] [--seed 1]
 *
 * Starts a tally service in a child process (this file with `--serve`: the same `compose()` as
 * `tally serve`, default configuration, a fresh temporary TALLY_DATA_DIR, 127.0.0.1 on a free
 * port). The one setting changed is the rate limit: 6000 requests a minute per address by
 * default, which one load generator on one address would hit at once; `--rate-limit` (per
 * minute, default 1,000,000) sets it, and the limiter still runs on every request.
 *
 * For `--duration` seconds, three kinds of clients run at once, each in a closed loop on its own
 * keep-alive connection:
 * - uploaders (`--connections`) POST small CSVs to `/jobs` (multipart mostly, some raw text/csv
 *   bodies and some gzip), cycling through `--inputs` generated inputs of varied content (quoted
 *   names, non-ASCII, CRLF, extra columns, bad rows, huge counts) whose expected outputs the
 *   reference aggregator (test/support/reference.ts) computed beforehand;
 * - pollers (`--pollers`) GET `/jobs/{id}` of recently accepted jobs;
 * - SSE clients (`--sse`) follow the newest job on `/jobs/{id}/events` to its final event.
 * Then it stops by itself, waits (at most `--settle` seconds) until no job is queued or running,
 * and checks every accepted job: succeeded, `rows_rejected` as expected, and its result
 * byte-identical to the reference's. It prints requests per second, p50/p99 latency per request
 * type, jobs submitted/completed/failed/lost, writes `bench/results/load-latest.md`, and exits
 * non-zero when a job was lost, failed or wrong.
 *
 * `runLoad()` is the load itself against any URL; test/load/load.test.ts runs it for a few
 * seconds against an in-process service.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import { isReferenceFailure, referenceAggregate } from '../test/support/reference.js'

// ---------------------------------------------------------------------------------------------
// Inputs: small CSVs of varied content, each with its expected output

type UploadMode = 'multipart' | 'raw' | 'gzip'

export interface LoadInput {
  index: number
  mode: UploadMode
  order: 'first_seen' | 'sorted'
  onError: 'skip' | 'fail'
  /** The request body and its headers, built once. */
  body: Buffer
  headers: Record<string, string>
  query: string
  expectedCsv: Buffer
  expectedRejected: number
  expectedRows: number
}

/** mulberry32: a small seeded generator, so the same seed gives the same inputs. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SONGS = [
  'Umbrella',
  'In The End',
  'Hello, World',
  'Say "Hi"',
  'Café del Mar',
  'Ænima',
  '東京',
  'Line\nBreak',
  ' padded ',
  '=SUM(A1)',
  'Song 1',
  'Song 2',
  'Song 3',
  'umbrella',
]
const BAD_ROWS = [
  ',2020-01-01,1', // empty song
  'X,2020-02-30,1', // not a date
  'X,2020-01-01,-3', // not a count
  'X,2020-01-01', // a field short
  'X,2020-01-01,1,extra', // a field too many (without an extra column)
  'X"y,2020-01-01,1', // a quote inside an unquoted field
]

function field(value: string, rnd: () => number): string {
  const must = /[,"\r\n]/.test(value) || /^[ \t]|[ \t]$/.test(value)
  return must || rnd() < 0.1 ? `"${value.replaceAll('"', '""')}"` : value
}

function makeCsv(rnd: () => number, withBadRows: boolean): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!
  const eol = rnd() < 0.3 ? '\r\n' : '\n'
  const extra = rnd() < 0.25
  const header = extra ? 'Notes,Song,Date,Number of Plays' : 'Song,Date,Number of Plays'
  const songs = SONGS.slice(0, 3 + Math.floor(rnd() * (SONGS.length - 3)))
  const rows = 5 + Math.floor(rnd() * 300)
  const lines = [header]
  for (let i = 0; i < rows; i++) {
    if (withBadRows && rnd() < 0.05 && !extra) {
      lines.push(pick(BAD_ROWS))
      continue
    }
    const date = `2020-0${1 + Math.floor(rnd() * 3)}-${String(1 + Math.floor(rnd() * 28)).padStart(2, '0')}`
    const plays =
      rnd() < 0.02
        ? `${Math.floor(rnd() * 9) + 1}${'9'.repeat(20)}`
        : String(Math.floor(rnd() * 1e6))
    const row = `${field(pick(songs), rnd)},${date},${plays}`
    lines.push(extra ? `n${i},${row}` : row)
  }
  return lines.join(eol) + (rnd() < 0.9 ? eol : '')
}

const BOUNDARY = '----tally-load-boundary-7d1f'

function multipartBody(csv: Buffer, fields: Record<string, string>, fileName: string): Buffer {
  const parts = Object.entries(fields).map(
    ([name, value]) =>
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  )
  return Buffer.concat([
    Buffer.from(parts.join('')),
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: text/csv\r\n\r\n`,
    ),
    csv,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ])
}

/** `count` inputs from `seed`, each with the reference's output. */
export function makeInputs(count: number, seed: number): LoadInput[] {
  const rnd = random(seed)
  const inputs: LoadInput[] = []
  // Bounded: an input fails only when every row is bad, and a bad row is 5% of rows.
  for (let attempt = 0; inputs.length < count && attempt < count * 10; attempt++) {
    const index = inputs.length
    const withBadRows = rnd() < 0.3
    const onError = withBadRows || rnd() < 0.5 ? 'skip' : 'fail'
    const order = rnd() < 0.5 ? 'first_seen' : 'sorted'
    const csv = Buffer.from(makeCsv(rnd, withBadRows), 'utf8')
    const expected = referenceAggregate(csv, { order, onError })
    if (isReferenceFailure(expected)) continue
    const r = rnd()
    const mode: UploadMode = r < 0.7 ? 'multipart' : r < 0.9 ? 'raw' : 'gzip'
    const fileName = `plays-${index}.csv`
    let body: Buffer
    let headers: Record<string, string>
    let query = ''
    if (mode === 'multipart') {
      body = multipartBody(csv, { order, on_error: onError }, fileName)
      headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }
    } else {
      body = mode === 'gzip' ? gzipSync(csv) : csv
      headers = { 'content-type': mode === 'gzip' ? 'application/gzip' : 'text/csv' }
      query = `?order=${order}&on_error=${onError}&file_name=${fileName}`
    }
    headers['content-length'] = String(body.length)
    inputs.push({
      index,
      mode,
      order,
      onError,
      body,
      headers,
      query,
      expectedCsv: Buffer.from(expected.csv, 'utf8'),
      expectedRejected: expected.rejects.length,
      expectedRows: expected.rowsRead,
    })
  }
  return inputs
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface Answer {
  status: number
  headers: IncomingMessage['headers']
  body: Buffer
}

const REQUEST_TIMEOUT_MS = 60_000

function send(
  agent: Agent,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { agent, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        )
        res.on('error', reject)
      },
    )
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`timeout: ${url}`)))
    req.on('error', reject)
    req.end(options.body)
  })
}

interface SseResult {
  /** Milliseconds to the first event. */
  firstEventMs: number
  /** The `status` of the final event's job view, or undefined when the stream ended without. */
  finalStatus: string | undefined
  events: number
}

/** Follows `/jobs/{id}/events` to its end (or `signal`). */
function followEvents(agent: Agent, url: string, signal: AbortSignal): Promise<SseResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let firstEventMs = -1
    let finalStatus: string | undefined
    let events = 0
    let text = ''
    const req = httpRequest(
      url,
      { agent, signal, headers: { accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume()
          reject(new Error(`events: HTTP ${res.statusCode}`))
          return
        }
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          text += chunk
          for (let end = text.indexOf('\n\n'); end !== -1; end = text.indexOf('\n\n')) {
            const block = text.slice(0, end)
            text = text.slice(end + 2)
            const name = /^event: (\w+)$/m.exec(block)?.[1]
            if (!name) continue // a comment (keep-alive)
            events++
            if (firstEventMs < 0) firstEventMs = performance.now() - started
            if (name === 'status') {
              const data = /^data: (.*)$/m.exec(block)?.[1]
              finalStatus = data ? JSON.parse(data).status : undefined
            }
          }
        })
        res.on('end', () => resolve({ firstEventMs, finalStatus, events }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}

// ---------------------------------------------------------------------------------------------
// Statistics

export interface LatencyStats {
  count: number
  perSecond: number
  p50: number
  p90: number
  p99: number
  max: number
}

function stats(samples: number[], seconds: number): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
  return {
    count: sorted.length,
    perSecond: sorted.length / seconds,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : 0,
  }
}

// ---------------------------------------------------------------------------------------------
// The load

export interface LoadOptions {
  /** The service, e.g. `http://127.0.0.1:8000`. */
  url: string
  durationMs: number
  /** Upload clients (one connection each). */
  connections: number
  pollers: number
  sseClients: number
  /** How many distinct inputs to cycle through. */
  inputs: number
  seed: number
  /** How long to wait, after the load, for every accepted job to end. */
  settleTimeoutMs: number
  log?: (line: string) => void
}

export interface LoadReport {
  options: Omit<LoadOptions, 'log'>
  seconds: number
  requests: { total: number; perSecond: number; errors: number }
  latency: {
    upload: LatencyStats
    status: LatencyStats
    sseFirstEvent: LatencyStats
    /** A job's `created_at` to `finished_at` (queue wait plus run). */
    job: LatencyStats
  }
  uploads: { byMode: Record<UploadMode, number>; refused: Record<string, number> }
  jobs: {
    submitted: number
    succeeded: number
    failed: number
    canceled: number
    /** Not found, or still queued or running once the settle time was over. */
    lost: number
    /** Succeeded, but with another output or rejected count than the reference. */
    wrong: number
    /** Jobs finished per second, from the first submission to the last finish. */
    perSecond: number
    settleSeconds: number
  }
  sse: { streams: number; events: number; badFinal: number }
  /** Descriptions of the first problems found (failed, lost, wrong jobs, bad answers). */
  problems: string[]
}

interface Accepted {
  id: string
  input: LoadInput
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const log = options.log ?? (() => {})
  const base = options.url.replace(/\/$/, '')
  const inputs = makeInputs(options.inputs, options.seed)
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections + options.pollers })
  const sseAgent = new Agent({ keepAlive: true, maxSockets: Math.max(1, options.sseClients) })

  const accepted: Accepted[] = []
  const latencies = { upload: [] as number[], status: [] as number[], sse: [] as number[] }
  const refused: Record<string, number> = {}
  const byMode: Record<UploadMode, number> = { multipart: 0, raw: 0, gzip: 0 }
  const problems: string[] = []
  const problem = (text: string) => {
    if (problems.length < 20) problems.push(text)
  }
  let errors = 0
  let nextInput = 0
  const sse = { streams: 0, events: 0, badFinal: 0 }

  const started = performance.now()
  const deadline = started + options.durationMs
  const running = () => performance.now() < deadline
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  const uploader = async () => {
    while (running()) {
      const input = inputs[nextInput++ % inputs.length]!
      const t0 = performance.now()
      try {
        const answer = await send(agent, `${base}/jobs${input.query}`, {
          method: 'POST',
          headers: input.headers,
          body: input.body,
        })
        if (answer.status === 202) {
          latencies.upload.push(performance.now() - t0)
          byMode[input.mode]++
          accepted.push({ id: JSON.parse(answer.body.toString('utf8')).job_id, input })
        } else {
          let code = String(answer.status)
          try {
            code = `${answer.status} ${JSON.parse(answer.body.toString('utf8')).code}`
          } catch {}
          refused[code] = (refused[code] ?? 0) + 1
          if (answer.status === 503 || answer.status === 429) {
            // Full queue or rate limit: back off as told (at most 1 s, to keep the load on).
            const after = Number(answer.headers['retry-after'] ?? 1)
            await pause(Math.min(1000, after * 1000))
          } else {
            problem(`upload ${input.index} (${input.mode}): ${code}`)
          }
        }
      } catch (error) {
        errors++
        problem(`upload: ${(error as Error).message}`)
        await pause(100)
      }
    }
  }

  const recent = () => {
    const from = Math.max(0, accepted.length - 256)
    return accepted[from + Math.floor(Math.random() * (accepted.length - from))]
  }

  const poller = async () => {
    while (running()) {
      const job = recent()
      if (!job) {
        await pause(10)
        continue
      }
      const t0 = performance.now()
      try {
        const answer = await send(agent, `${base}/jobs/${job.id}`)
        if (answer.status === 200) latencies.status.push(performance.now() - t0)
        else {
          errors++
          problem(`GET /jobs/${job.id}: ${answer.status}`)
        }
      } catch (error) {
        errors++
        problem(`GET /jobs/{id}: ${(error as Error).message}`)
        await pause(100)
      }
    }
  }

  const settleAbort = new AbortController()
  const sseClient = async () => {
    while (running()) {
      const job = accepted[accepted.length - 1]
      if (!job) {
        await pause(10)
        continue
      }
      try {
        const r = await followEvents(sseAgent, `${base}/jobs/${job.id}/events`, settleAbort.signal)
        sse.streams++
        sse.events += r.events
        if (r.firstEventMs >= 0) latencies.sse.push(r.firstEventMs)
        if (r.finalStatus !== 'succeeded') {
          sse.badFinal++
          problem(`events of ${job.id}: final status ${r.finalStatus}`)
        }
      } catch (error) {
        if (settleAbort.signal.aborted) return
        errors++
        problem(`events: ${(error as Error).message}`)
        await pause(100)
      }
    }
  }

  log(
    `load: ${options.durationMs / 1000} s, ${options.connections} uploaders, ${options.pollers} pollers, ${options.sseClients} SSE clients on ${base}`,
  )
  const clients = [
    ...Array.from({ length: options.connections }, uploader),
    ...Array.from({ length: options.pollers }, poller),
  ]
  const sseClients = Array.from({ length: options.sseClients }, sseClient)
  await Promise.all(clients)
  const loadSeconds = (performance.now() - started) / 1000
  log(`load: done, ${accepted.length} jobs accepted; waiting for them to end`)

  // Settle: until nothing is queued or running (bounded).
  const settleStart = performance.now()
  const settleDeadline = settleStart + options.settleTimeoutMs
  for (;;) {
    const answer = await send(agent, `${base}/jobs?status=queued&status=running&limit=1`)
    const list = JSON.parse(answer.body.toString('utf8'))
    if (answer.status === 200 && list.jobs.length === 0) break
    if (performance.now() > settleDeadline) {
      problem(`jobs still queued or running after ${options.settleTimeoutMs / 1000} s`)
      break
    }
    await pause(250)
  }
  const settleSeconds = (performance.now() - settleStart) / 1000
  // Streams still open follow jobs that have ended: they end on their own; bounded anyway.
  const sseTimer = setTimeout(() => settleAbort.abort(), 10_000)
  await Promise.all(sseClients)
  clearTimeout(sseTimer)

  // Verify every accepted job.
  const jobs = {
    submitted: accepted.length,
    succeeded: 0,
    failed: 0,
    canceled: 0,
    lost: 0,
    wrong: 0,
  }
  const jobMs: number[] = []
  let firstCreated = Number.POSITIVE_INFINITY
  let lastFinished = 0
  let next = 0
  const verifier = async () => {
    while (next < accepted.length) {
      const { id, input } = accepted[next++]!
      try {
        const viewAnswer = await send(agent, `${base}/jobs/${id}`)
        if (viewAnswer.status !== 200) {
          jobs.lost++
          problem(`job ${id}: GET answers ${viewAnswer.status}`)
          continue
        }
        const view = JSON.parse(viewAnswer.body.toString('utf8'))
        const created = Date.parse(view.created_at)
        firstCreated = Math.min(firstCreated, created)
        if (view.finished_at) {
          const finished = Date.parse(view.finished_at)
          lastFinished = Math.max(lastFinished, finished)
          jobMs.push(finished - created)
        }
        if (view.status === 'failed') {
          jobs.failed++
          problem(`job ${id} (input ${input.index}) failed: ${JSON.stringify(view.error)}`)
          continue
        }
        if (view.status === 'canceled') {
          jobs.canceled++
          problem(`job ${id} canceled`)
          continue
        }
        if (view.status !== 'succeeded') {
          jobs.lost++
          problem(`job ${id} still ${view.status}`)
          continue
        }
        jobs.succeeded++
        const result = await send(agent, `${base}/jobs/${id}/result`)
        const same =
          result.status === 200 &&
          result.body.equals(input.expectedCsv) &&
          view.result?.rows_rejected === input.expectedRejected &&
          view.result?.rows_read === input.expectedRows
        if (!same) {
          jobs.wrong++
          problem(
            `job ${id} (input ${input.index}, ${input.mode}, ${input.order}, ${input.onError}): result ${result.status}, ${result.body.length} bytes (expected ${input.expectedCsv.length}), rows_read ${view.result?.rows_read} (expected ${input.expectedRows}), rows_rejected ${view.result?.rows_rejected} (expected ${input.expectedRejected})`,
          )
        }
      } catch (error) {
        jobs.lost++
        problem(`job ${id}: ${(error as Error).message}`)
      }
    }
  }
  await Promise.all(Array.from({ length: 8 }, verifier))
  agent.destroy()
  sseAgent.destroy()

  const requests = latencies.upload.length + latencies.status.length + sse.streams
  const { log: _log, ...shown } = options
  return {
    options: shown,
    seconds: loadSeconds,
    requests: {
      total: requests,
      perSecond: requests / loadSeconds,
      errors,
    },
    latency: {
      upload: stats(latencies.upload, loadSeconds),
      status: stats(latencies.status, loadSeconds),
      sseFirstEvent: stats(latencies.sse, loadSeconds),
      job: stats(jobMs, loadSeconds),
    },
    uploads: { byMode, refused },
    jobs: {
      ...jobs,
      perSecond:
        lastFinished > firstCreated ? jobs.succeeded / ((lastFinished - firstCreated) / 1000) : 0,
      settleSeconds,
    },
    sse,
    problems,
  }
}

/** True when nothing was lost, failed, wrong or broken. */
export function loadPassed(report: LoadReport): boolean {
  const { jobs } = report
  return (
    jobs.submitted > 0 &&
    jobs.succeeded === jobs.submitted &&
    jobs.failed + jobs.canceled + jobs.lost + jobs.wrong === 0 &&
    report.requests.errors === 0 &&
    report.sse.badFinal === 0 &&
    report.problems.length === 0
  )
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (n: number) => (n < 10 ? n.toFixed(1) : n.toFixed(0))
const int = (n: number) => Math.round(n).toLocaleString('en-US')

export function formatReport(report: LoadReport, context: string[] = []): string {
  const { latency, jobs, options } = report
  const row = (name: string, s: LatencyStats, rate = true) =>
    `| ${name} | ${int(s.count)} | ${rate ? s.perSecond.toFixed(0) : '-'} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} |`
  const refused = Object.entries(report.uploads.refused)
    .map(([code, n]) => `${n} × ${code}`)
    .join(', ')
  return [
    ...context,
    '',
    `${options.durationMs / 1000} s of load: ${options.connections} upload connections, ${options.pollers} status pollers, ${options.sseClients} SSE clients, ${options.inputs} distinct inputs (seed ${options.seed}).`,
    '',
    `Requests: ${int(report.requests.total)} in ${report.seconds.toFixed(1)} s = **${report.requests.perSecond.toFixed(0)} requests/s**, ${report.requests.errors} errors.`,
    '',
    '| request | count | per s | p50 ms | p90 ms | p99 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    row('POST /jobs (upload, 202)', latency.upload),
    row('GET /jobs/{id}', latency.status),
    row('GET /jobs/{id}/events (to first event)', latency.sseFirstEvent),
    row('job: created -> finished', latency.job, false),
    '',
    `Uploads accepted by kind: ${report.uploads.byMode.multipart} multipart, ${report.uploads.byMode.raw} raw text/csv, ${report.uploads.byMode.gzip} gzip; refused: ${refused || 'none'}.`,
    `SSE: ${report.sse.streams} streams followed to their end, ${report.sse.events} events, ${report.sse.badFinal} without a final "succeeded".`,
    '',
    `Jobs: **${int(jobs.submitted)} submitted, ${int(jobs.succeeded)} succeeded, ${jobs.failed} failed, ${jobs.canceled} canceled, ${jobs.lost} lost, ${jobs.wrong} with a wrong output**; ${jobs.perSecond.toFixed(0)} jobs/s from the first submission to the last finish; the queue drained ${jobs.settleSeconds.toFixed(1)} s after the load stopped.`,
    `Every succeeded job's result was compared byte for byte with the reference aggregator's output (and its rows_read and rows_rejected with the reference's).`,
    ...(report.problems.length ? ['', 'Problems:', ...report.problems.map((p) => `- ${p}`)] : []),
    '',
  ].join('\n')
}

// ---------------------------------------------------------------------------------------------
// The service in a child process (`--serve`)

async function serveChild(rateLimitPerMinute: number): Promise<void> {
  const { loadConfig } = await import('../src/config.js')
  const { compose } = await import('../src/compose.js')
  const config = loadConfig(process.env)
  const service = await compose(config, {
    http: { rateLimit: { max: rateLimitPerMinute, timeWindowMs: 60_000 } },
  })
  await service.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = service.app.server.address() as AddressInfo
  process.stderr.write(`LISTENING http://127.0.0.1:${port}\n`)
  const stop = async () => {
    await service.close({ graceMs: 5000 })
    process.exit(0)
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

async function startChild(
  dataDir: string,
  rateLimitPerMinute: number,
): Promise<{ url: string; child: ChildProcess }> {
  const script = fileURLToPath(import.meta.url)
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, '--serve', '--rate-limit', String(rateLimitPerMinute)],
    {
      env: { ...process.env, TALLY_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  // The service's JSON log (the default level, info) goes to a file next to its data.
  child.stdout!.pipe(createWriteStream(join(dataDir, 'service.log')))
  const url = await new Promise<string>((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error(`no LISTENING line in 60 s: ${text}`)), 60_000)
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (chunk: string) => {
      text += chunk
      const match = /LISTENING (\S+)/.exec(text)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the service exited (${code}): ${text}`))
    })
  })
  return { url, child }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'boolean', default: false },
      duration: { type: 'string', default: '20' },
      connections: { type: 'string', default: '32' },
      pollers: { type: 'string', default: '8' },
      sse: { type: 'string', default: '8' },
      inputs: { type: 'string', default: '200' },
      settle: { type: 'string', default: '180' },
      'rate-limit': { type: 'string', default: '1000000' },
      seed: { type: 'string', default: '1' },
      url: { type: 'string' },
    },
  })
  const count = (name: string, text: string, min = 1) => {
    const n = Number(text)
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}`)
    return n
  }
  const rateLimit = count('rate-limit', values['rate-limit'])
  if (values.serve) return serveChild(rateLimit)

  const log = (line: string) => process.stderr.write(`${line}\n`)
  const dataDir = await mkdtemp(join(tmpdir(), 'tally-load-'))
  let child: ChildProcess | undefined
  try {
    let url = values.url
    if (url === undefined) {
      const started = await startChild(dataDir, rateLimit)
      url = started.url
      child = started.child
      log(`load: service (child ${child.pid}) on ${url}, data in ${dataDir}`)
    }
    const before = loadavg()
    const report = await runLoad({
      url,
      durationMs: count('duration', values.duration) * 1000,
      connections: count('connections', values.connections),
      pollers: count('pollers', values.pollers, 0),
      sseClients: count('sse', values.sse, 0),
      inputs: count('inputs', values.inputs),
      seed: count('seed', values.seed, 0),
      settleTimeoutMs: count('settle', values.settle) * 1000,
      log,
    })
    const cpu = cpus()[0]?.model ?? 'unknown CPU'
    const context = [
      '# Load test (`npm run load`)',
      '',
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${availableParallelism()} cores (${cpu}), Node ${process.version}; load average before the run ${before.map((n) => n.toFixed(2)).join(', ')}, after ${loadavg()
        .map((n) => n.toFixed(2))
        .join(', ')}.`,
      values.url === undefined
        ? `Service: \`tally serve\`'s \`compose()\` in a child process, default configuration (TALLY_CONCURRENCY 2, TALLY_THREADS = cores, log level info, SQLite queue, local files), except the rate limit: ${int(rateLimit)} requests a minute instead of 6,000.`
        : `Service: ${values.url} (started elsewhere).`,
    ]
    const text = formatReport(report, context)
    process.stdout.write(text)
    const resultsDir = fileURLToPath(new URL('results/', import.meta.url))
    await mkdir(resultsDir, { recursive: true })
    await writeFile(join(resultsDir, 'load-latest.md'), text)
    if (!loadPassed(report)) {
      log('load: FAILED (jobs failed, lost or wrong, or errors; see above)')
      process.exitCode = 1
    }
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child!.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    }
    await rm(dataDir, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main()
}
