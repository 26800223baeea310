/**
 * The bad-input corpus through the real HTTP service: every case, under `on_error=skip` and
 * `on_error=fail`, is uploaded (multipart, gzip cases as they are) over a real socket to an
 * in-process service listening on 127.0.0.1, then its job is polled until it ends and its
 * result, rejects and view are read, all over HTTP.
 *
 * What the corpus expects becomes an API outcome in one place, `apiOutcome` (below):
 * - a success: the job succeeds; `GET /jobs/{id}/result` is the exact output CSV; with
 *   `skip`, `GET /jobs/{id}/rejects` lists exactly the expected (line, code) pairs and the job
 *   view's `result.rows_rejected` counts them;
 * - a header refusal (`CSV_EMPTY_FILE`, `CSV_NOT_TEXT`, `CSV_MISSING_COLUMNS`,
 *   `CSV_DUPLICATE_COLUMN`, `CSV_BAD_GZIP` whose damage is met before the header row is out):
 *   the upload is refused with 422 and that code (and line) before any job exists, as the
 *   README's HTTP error table says; except when the header row is longer than what the upload
 *   inspector reads (1 MiB), or the gzip damage lies after a complete header row: then the job
 *   is accepted and fails with the code;
 * - any other error (row errors under `fail`, `CSV_NO_VALID_ROWS`, `INPUT_TOO_LARGE`, ...): the
 *   job fails with that code (and line), and its result answers 409 `JOB_FAILED`.
 *
 * Which of the corpus's outcomes applies: the service decompresses gzip like `aggregate()` on a
 * stream, so `expect`. `limits.maxInputBytes` is the service's `TALLY_MAX_INPUT_BYTES` (those
 * cases run on a service of their own with that limit). `limits.maxRowBytes` has no setting in
 * the service (64 MiB always): those cases expect what the corpus gives without the limit, its
 * `sync` outcome (only plain-text cases use it).
 *
 * The runs go 4 at a time in `beforeAll`; the tests then read what each run observed.
 */
import { request as httpRequest } from 'node:http'
import { gunzipSync, constants as zlibConstants } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobView } from '../../src/http/schemas/job-view.js'
import { multipart, startService, type TestService } from '../http/support/service.js'
import {
  CASES,
  type CorpusCase,
  type Outcome,
  POLICIES,
  type Policy,
  type Reject,
} from './cases.js'
import {
  expectOutcome,
  expectReadableMessage,
  inPool,
  type Observed,
  rejectsOfFile,
} from './support.js'

const CONCURRENCY = 4
const JOB_TIMEOUT_MS = 120_000
const REQUEST_TIMEOUT_MS = 120_000
/** What the upload inspector reads of the header row at most (header-inspector.ts). */
const INSPECTED_HEAD_BYTES = 1024 * 1024
const HEADER_CODES = new Set([
  'CSV_EMPTY_FILE',
  'CSV_NOT_TEXT',
  'CSV_MISSING_COLUMNS',
  'CSV_DUPLICATE_COLUMN',
  'CSV_BAD_GZIP',
])

// ---------------------------------------------------------------------------------------------
// Corpus expectation -> API outcome

type ApiOutcome =
  | { kind: 'succeeds'; csv: string; rejects: readonly Reject[] }
  | { kind: 'fails'; code: string; line?: number }
  | { kind: 'refused'; status: number; code: string; line?: number }

const isGzip = (bytes: Uint8Array) => bytes[0] === 0x1f && bytes[1] === 0x8b

/**
 * The plain bytes the upload inspector sees: the input itself, or as much of the gzip data as
 * decompresses (undefined when the gzip data is damaged before anything comes out).
 */
function inspectedText(bytes: Uint8Array): Buffer | undefined {
  if (!isGzip(bytes)) return Buffer.from(bytes)
  try {
    return gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH })
  } catch {
    return undefined
  }
}

/** True when the inspector meets the end of the header row within what it reads. */
function headerRowInspected(bytes: Uint8Array): boolean {
  const text = inspectedText(bytes)
  if (text === undefined) return true // damaged gzip: refused at once
  const end = text.indexOf(0x0a)
  // No line end: the whole (short) file is the header row, judged when the upload ends.
  return end === -1 ? text.length <= INSPECTED_HEAD_BYTES : end < INSPECTED_HEAD_BYTES
}

/** The corpus outcome that applies to the service (see the file comment). */
function serviceOutcome(c: CorpusCase, policy: Policy): Outcome {
  if (c.limits?.maxRowBytes !== undefined) {
    if (!c.sync || isGzip(c.bytes())) throw new Error(`${c.name}: no outcome without maxRowBytes`)
    return c.sync[policy]
  }
  return c.expect[policy]
}

function apiOutcome(c: CorpusCase, policy: Policy): ApiOutcome {
  const o = serviceOutcome(c, policy)
  if (!('error' in o)) return { kind: 'succeeds', csv: o.csv, rejects: o.rejects }
  const line = o.line === undefined ? {} : { line: o.line }
  const bytes = c.bytes()
  const atUpload =
    HEADER_CODES.has(o.error) &&
    headerRowInspected(bytes) &&
    // Gzip damaged after a complete header row: the header passes, the job meets the damage.
    !(o.error === 'CSV_BAD_GZIP' && (inspectedText(bytes)?.indexOf(0x0a) ?? -1) !== -1)
  if (atUpload) return { kind: 'refused', status: 422, code: o.error, ...line }
  return { kind: 'fails', code: o.error, ...line }
}

// ---------------------------------------------------------------------------------------------
// HTTP over a real socket

interface HttpAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        answered = true
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
    req.on('timeout', () => req.destroy(new Error(`timeout: ${options.method ?? 'GET'} ${url}`)))
    // A refused upload may be answered (and the socket closed) before all of it is written.
    req.on('error', (error) => {
      if (!answered) reject(error)
    })
    req.end(options.body)
  })
}

const json = (answer: HttpAnswer) => JSON.parse(answer.body.toString('utf8'))

// ---------------------------------------------------------------------------------------------
// One run: upload, wait, read

interface Run {
  c: CorpusCase
  policy: Policy
  expected: ApiOutcome
}

type RunResult =
  | { kind: 'refused'; status: number; contentType: string; problem: Record<string, unknown> }
  | {
      kind: 'job'
      jobId: string
      view: JobView
      result: HttpAnswer
      rejects: HttpAnswer | undefined
    }
  | { kind: 'broken'; message: string }

const RUNS: Run[] = CASES.flatMap((c) =>
  POLICIES.map((policy) => ({ c, policy, expected: apiOutcome(c, policy) })),
)

/** One service per distinct `maxInputBytes` (undefined: the default limit). */
const services = new Map<number | undefined, TestService>()
const results = new Map<Run, RunResult>()

async function waitForEnd(base: string, id: string): Promise<JobView> {
  const deadline = Date.now() + JOB_TIMEOUT_MS
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    const view = json(await send(`${base}/jobs/${id}`))
    if (['succeeded', 'failed', 'canceled'].includes(view.status)) return view
    if (Date.now() > deadline) throw new Error(`job ${id} still ${view.status}`)
    await new Promise((resolve) => setTimeout(resolve, delay))
  }
}

async function runCase(run: Run): Promise<RunResult> {
  const base = services.get(run.c.limits?.maxInputBytes)!.url
  const fields: Record<string, string> = { on_error: run.policy }
  if (run.c.order) fields.order = run.c.order
  const type = isGzip(run.c.bytes()) ? 'application/gzip' : 'text/csv'
  const form = multipart(fields, [
    {
      field: 'file',
      name: run.c.fileName ?? 'input.csv',
      content: Buffer.from(run.c.bytes()),
      type,
    },
  ])
  const submitted = await send(`${base}/jobs`, {
    method: 'POST',
    headers: form.headers,
    body: form.payload,
  })
  if (submitted.status !== 202) {
    return {
      kind: 'refused',
      status: submitted.status,
      contentType: String(submitted.headers['content-type']),
      problem: json(submitted),
    }
  }
  const id: string = json(submitted).job_id
  const view = await waitForEnd(base, id)
  const result = await send(`${base}/jobs/${id}/result`)
  const rejects = run.policy === 'skip' ? await send(`${base}/jobs/${id}/rejects`) : undefined
  // The large inputs are tens of megabytes: delete each job's files once read.
  if (view.status !== 'queued' && view.status !== 'running') {
    await send(`${base}/jobs/${id}`, { method: 'DELETE' })
  }
  return { kind: 'job', jobId: id, view, result, rejects }
}

beforeAll(async () => {
  for (const limit of new Set(CASES.map((c) => c.limits?.maxInputBytes))) {
    const env: Record<string, string> =
      limit === undefined ? {} : { TALLY_MAX_INPUT_BYTES: String(limit) }
    services.set(limit, await startService({ listen: true, env }))
  }
  const done = await inPool(
    CONCURRENCY,
    RUNS.map((run) => async () => {
      try {
        return await runCase(run)
      } catch (error) {
        return { kind: 'broken', message: String((error as Error)?.stack ?? error) } as const
      }
    }),
  )
  RUNS.forEach((run, i) => {
    results.set(run, done[i]!)
  })
}, 300_000)

afterAll(async () => {
  for (const service of services.values()) await service.close()
})

// ---------------------------------------------------------------------------------------------
// The checks

function checkRun(run: Run, r: RunResult): void {
  const label = `${run.c.name} (on_error=${run.policy})`
  const { expected } = run
  if (r.kind === 'broken') expect.fail(`${label}: the run broke: ${r.message}`)
  if (expected.kind === 'refused') {
    const got =
      r.kind === 'refused'
        ? `${r.status} ${r.problem.code}`
        : `a job that ${r.view.status} (${r.view.error?.code ?? 'no error'})`
    expect(got, `${label}: the upload is refused`).toBe(`${expected.status} ${expected.code}`)
    if (r.kind !== 'refused') return
    expect(r.contentType, `${label}: problem+json`).toMatch(/^application\/problem\+json/)
    if (expected.line !== undefined) expect(r.problem.line, `${label}: line`).toBe(expected.line)
    expectReadableMessage(String(r.problem.detail), label)
    return
  }
  if (r.kind === 'refused') {
    expect.fail(
      `${label}: expected a job that ${expected.kind}, the upload was refused: ${r.status} ${JSON.stringify(r.problem)}`,
    )
    return
  }
  const { view } = r
  let observed: Observed
  if (view.status === 'failed') {
    expect(r.result.status, `${label}: the result of a failed job`).toBe(409)
    expect(json(r.result).code, `${label}: the result's code`).toBe('JOB_FAILED')
    observed = {
      ok: false,
      code: view.error?.code ?? 'no error in the view',
      line: view.error?.line ?? undefined,
      message: view.error?.message ?? '',
    }
  } else {
    expect(view.status, `${label}: job status; error ${JSON.stringify(view.error)}`).toBe(
      'succeeded',
    )
    expect(r.result.status, `${label}: the result`).toBe(200)
    let rejects: [number, string][] = []
    if (run.policy === 'skip') {
      expect(r.rejects?.status, `${label}: the rejects`).toBe(200)
      rejects = rejectsOfFile(r.rejects!.body.toString('utf8'))
    }
    expect(view.result?.rows_rejected, `${label}: rows_rejected in the job result`).toBe(
      rejects.length,
    )
    const csv = r.result.body.toString('utf8')
    // Byte-exact: the text decoded and encoded back gives the same bytes.
    expect(Buffer.from(csv, 'utf8').equals(r.result.body), `${label}: output is UTF-8`).toBe(true)
    observed = { ok: true, csv, rejects }
  }
  const outcome: Outcome =
    expected.kind === 'succeeds'
      ? { csv: expected.csv, rejects: expected.rejects }
      : {
          error: expected.code as never,
          ...(expected.line === undefined ? {} : { line: expected.line }),
        }
  expectOutcome(observed, outcome, label)
}

describe('bad-input corpus: the HTTP API', () => {
  it(`runs every case under both policies (${RUNS.length} uploads)`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40)
    expect(results.size).toBe(RUNS.length)
  })

  it('maps the corpus to every kind of API outcome', () => {
    const kinds = new Set(RUNS.map((run) => run.expected.kind))
    expect([...kinds].sort()).toEqual(['fails', 'refused', 'succeeds'])
  })

  for (const run of RUNS) {
    it(`${run.c.name}: on_error=${run.policy} -> ${run.expected.kind}${
      run.expected.kind === 'succeeds' ? '' : ` ${run.expected.code}`
    }`, () => {
      checkRun(run, results.get(run)!)
    })
  }

  it('leaves no job and no file behind (refused uploads, deleted jobs)', async () => {
    for (const service of services.values()) {
      const list = json(await send(`${service.url}/jobs?limit=100`))
      // Every accepted job was deleted once read; refused uploads never made one.
      expect(list.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([])
      const stored: string[] = []
      for await (const key of service.service.storage.list('')) stored.push(key)
      expect(stored, 'nothing left in storage').toEqual([])
    }
  })
})
