/**
 * A plain HTTP client of the primary API for the fault tests: real requests on loopback with
 * `node:http` (no retries, no magic), so a cut connection is seen as the error it is.
 */
import { request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** One request; rejects when the connection fails or is cut before the whole answer arrived. */
export function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.once('error', reject)
        // `aborted`: the server went away before the end of the body (Content-Length or chunked).
        res.once('aborted', () => reject(new Error('response aborted before its end')))
        res.once('end', () => {
          if (!res.complete) {
            reject(new Error('response ended before its end'))
            return
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          })
        })
      },
    )
    req.once('error', reject)
    req.end(options.body)
  })
}

export function json<T = Record<string, unknown>>(answer: Answer): T {
  return JSON.parse(answer.body.toString()) as T
}

export interface JobView {
  job_id: string
  status: string
  file_name: string
  file_bytes: number
  error: { code: string; message: string } | null
  result: { output_bytes: number } | null
  [key: string]: unknown
}

/** Uploads `csv` as a raw `text/csv` body; the options and file name go in the query. */
export function submitRaw(url: string, csv: Buffer, query = ''): Promise<Answer> {
  return send(`${url}/jobs${query ? `?${query}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv' },
    body: csv,
  })
}

export async function getJob(url: string, id: string): Promise<JobView> {
  const answer = await send(`${url}/jobs/${id}`)
  if (answer.status !== 200) throw new Error(`GET /jobs/${id}: ${answer.status} ${answer.body}`)
  return json<JobView>(answer)
}

/** Every job the service knows, following the cursor (bounded: at most 100 pages). */
export async function listAllJobs(url: string): Promise<JobView[]> {
  const all: JobView[] = []
  let cursor: string | null = null
  for (let page = 0; page < 100; page++) {
    const answer = await send(
      `${url}/jobs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    )
    if (answer.status !== 200) throw new Error(`GET /jobs: ${answer.status} ${answer.body}`)
    const body = json<{ jobs: JobView[]; next_cursor: string | null }>(answer)
    all.push(...body.jobs)
    cursor = body.next_cursor
    if (!cursor) return all
  }
  throw new Error('GET /jobs: more than 100 pages')
}

/** Polls the job until it is final (or `timeoutMs` passes: then throws). */
export async function waitFinal(url: string, id: string, timeoutMs = 60_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const job = await getJob(url, id)
    if (['succeeded', 'failed', 'canceled'].includes(job.status)) return job
    if (Date.now() > deadline)
      throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`)
    await sleep(50)
  }
}

/** Polls until `predicate` holds (or throws after `timeoutMs`). */
export async function until(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}
