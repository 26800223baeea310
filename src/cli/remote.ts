/**
 * The HTTP client side of `tally submit`, `status` and `download`: the server's JSON API with the
 * API key, the job's SSE stream read with fetch, and downloads streamed to a file. Failures are
 * `RemoteError`s carrying the exit code: a connection problem (unreachable, 5xx) is 3, anything
 * the server refused (4xx) or a failed job is 1.
 */
import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { EXIT_FAILED, EXIT_IO, reportError } from './command.js'

export const DEFAULT_SERVER = 'http://127.0.0.1:8000'

export interface RemoteOptions {
  server?: string
  apiKey?: string
}

export interface RemoteJob {
  job_id: string
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled'
  file_name: string
  progress: {
    bytes_done: number
    bytes_total: number | null
    rows: number
    percent: number | null
    eta_seconds: number | null
  } | null
  result: { rows_read: number; rows_rejected: number; groups: number; duration_ms: number } | null
  error: { code: string; message: string; line: number | null } | null
}

export class RemoteError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

export class Remote {
  readonly server: string
  readonly headers: Record<string, string>

  constructor(options: RemoteOptions) {
    this.server = (options.server ?? process.env.TALLY_SERVER ?? DEFAULT_SERVER).replace(/\/+$/, '')
    const key = options.apiKey ?? process.env.TALLY_API_KEY
    this.headers = key ? { 'x-api-key': key } : {}
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    let response: Response
    try {
      response = await fetch(`${this.server}${path}`, {
        ...init,
        headers: { ...this.headers, ...init.headers },
      })
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message
      throw new RemoteError(`cannot reach ${this.server} (${cause})`, EXIT_IO)
    }
    if (response.ok) return response
    const text = await response.text()
    let detail = text
    try {
      const problem = JSON.parse(text) as { detail?: string; code?: string }
      detail = problem.code ? `${problem.code}: ${problem.detail}` : (problem.detail ?? text)
    } catch {}
    throw new RemoteError(
      `${response.status} from ${path}: ${detail}`,
      response.status >= 500 ? EXIT_IO : EXIT_FAILED,
    )
  }

  async job(id: string): Promise<RemoteJob> {
    return (await (await this.request(`/jobs/${encodeURIComponent(id)}`)).json()) as RemoteJob
  }

  async startJob(uploadId: string, options: Record<string, string>): Promise<RemoteJob> {
    const response = await this.request('/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ upload_id: uploadId, ...options }),
    })
    return (await response.json()) as RemoteJob
  }

  /** Calls `onView` with every job view of the event stream; returns the final one. */
  async follow(id: string, onView: (view: RemoteJob) => void): Promise<RemoteJob> {
    const response = await this.request(`/jobs/${encodeURIComponent(id)}/events`, {
      headers: { accept: 'text/event-stream' },
    })
    let last: RemoteJob | undefined
    let buffer = ''
    const decoder = new TextDecoder()
    for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const data = dataOf(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
        if (data === '') continue
        last = JSON.parse(data) as RemoteJob
        onView(last)
      }
    }
    // The stream ended without a final event (a restart, a proxy): ask once more.
    if (!last || !isFinal(last)) last = await this.job(id)
    return last
  }

  /** Streams `path` into `output` (under a temporary name, renamed once complete). */
  async download(path: string, output: string): Promise<void> {
    const response = await this.request(path)
    const partial = `${output}.partial`
    try {
      await pipeline(
        Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
        createWriteStream(partial),
      )
      await rename(partial, output)
    } catch (error) {
      await rm(partial, { force: true })
      throw error
    }
  }
}

export function isFinal(view: RemoteJob): boolean {
  return view.status === 'succeeded' || view.status === 'failed' || view.status === 'canceled'
}

function dataOf(block: string): string {
  return block
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).trimStart())
    .join('\n')
}

/** Exit code and message for a job that ended without success. */
export function jobFailure(view: RemoteJob): RemoteError {
  if (view.status === 'canceled')
    return new RemoteError(`job ${view.job_id} was canceled`, EXIT_FAILED)
  const line = view.error?.line ? ` (line ${view.error.line})` : ''
  return new RemoteError(
    `job ${view.job_id} failed: ${view.error?.code}: ${view.error?.message}${line}`,
    EXIT_FAILED,
  )
}

/** Runs a remote command; a `RemoteError` becomes one line on stderr and its exit code. */
export async function runRemote(body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (error) {
    if (error instanceof RemoteError) {
      process.stderr.write(`tally: ${error.message}\n`)
      process.exitCode = error.exitCode
      return
    }
    process.exitCode = reportError(error)
  }
}

/** A one-line bar on a terminal (nothing when stderr is not one). */
export function lineBar(stream: NodeJS.WriteStream) {
  let drawn = false
  return {
    draw(label: string, fraction: number | null, extra = '') {
      if (!stream.isTTY) return
      const width = 24
      const bar =
        fraction === null
          ? ''
          : `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '.')}] ${(fraction * 100).toFixed(0).padStart(3)}% `
      stream.write(`\r${label} ${bar}${extra}\x1b[K`)
      drawn = true
    },
    done() {
      if (drawn) stream.write('\r\x1b[K')
      drawn = false
    },
  }
}
