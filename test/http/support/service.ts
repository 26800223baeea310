/**
 * The real service for HTTP tests: `compose()` over a temp data directory (real files, real
 * SQLite, real engine), optionally listening on 127.0.0.1 with port 0. Plus the helpers the
 * route tests share: multipart bodies, waiting for a job, the engine's own output for a file.
 * The shared suites reach it through `embedded` in target.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { generateSongPlaysChunks } from '../../../src/cli/generate-data.js'
import { compose, type Service } from '../../../src/compose.js'
import { loadConfig } from '../../../src/config.js'
import { aggregate } from '../../../src/engine/index.js'
import type { JobView, SubmittedJob } from '../../../src/http/schemas/job-view.js'
import type { HttpOptions } from '../../../src/http/types.js'
import type { Inject } from './target.js'

export interface TestService {
  service: Service
  dir: string
  /** `http://127.0.0.1:<port>` when started with `listen`. */
  url: string
  inject: Service['app']['inject']
  close(): Promise<void>
}

export interface StartOptions {
  env?: Record<string, string>
  http?: HttpOptions
  startJobs?: boolean
  listen?: boolean
  /** Use this data directory (kept on close) instead of a fresh one (removed on close). */
  dir?: string
}

export async function startService(options: StartOptions = {}): Promise<TestService> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tally-http-')))
  const config = loadConfig(
    {
      TALLY_DATA_DIR: dir,
      TALLY_THREADS: '2',
      TALLY_CONCURRENCY: '2',
      TALLY_LOG_LEVEL: 'silent',
      ...options.env,
    },
    dir,
  )
  const service = await compose(config, {
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    http: { rateLimit: false, ...options.http },
    startJobs: options.startJobs,
  })
  let url = ''
  if (options.listen) {
    await service.app.listen({ host: '127.0.0.1', port: 0 })
    const address = service.app.server.address() as AddressInfo
    url = `http://127.0.0.1:${address.port}`
  }
  return {
    service,
    dir,
    url,
    inject: service.app.inject.bind(service.app),
    async close() {
      await service.close()
      if (!options.dir) await rm(dir, { recursive: true, force: true })
    },
  }
}

/** DESIGN.md's example, under the names the HTTP tests use. */
export {
  DESIGN_INPUT as PLAYS_CSV,
  DESIGN_OUTPUT as PLAYS_TOTALS,
} from '../../support/design-example.js'

/** Generated song plays: about 30 bytes a row. */
export function songPlays(rows: number, seed = 1, badRowRate = 0): Buffer {
  const chunks = [...generateSongPlaysChunks({ rows, songs: 2000, days: 60, seed, badRowRate })]
  return Buffer.concat(chunks)
}

/** What the engine itself outputs for `input` (the reference for byte-identical results). */
export async function engineOutput(
  input: Buffer,
  options: { order?: string; onError?: string } = {},
): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-expected-'))
  try {
    await writeFile(join(dir, 'input.csv'), input)
    await aggregate(join(dir, 'input.csv'), join(dir, 'output.csv'), {
      ...options,
      threads: 1,
      tempDir: dir,
    })
    return await readFile(join(dir, 'output.csv'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export interface FormFile {
  field: string
  name: string
  content: Buffer | string
  type?: string
}

/** A multipart/form-data body: text fields first (in order), then the files. */
export function multipart(
  fields: Record<string, string>,
  files: FormFile[] = [],
  options: { filesFirst?: boolean } = {},
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----tally${Math.random().toString(16).slice(2)}`
  const fieldParts = Object.entries(fields).map(([name, value]) =>
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
    ),
  )
  const fileParts = files.flatMap((file) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.name}"\r\nContent-Type: ${file.type ?? 'text/csv'}\r\n\r\n`,
    ),
    Buffer.from(file.content),
    Buffer.from('\r\n'),
  ])
  const parts = options.filesFirst ? [...fileParts, ...fieldParts] : [...fieldParts, ...fileParts]
  return {
    payload: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  }
}

/**
 * Polls `GET /jobs/{id}` until the job is in one of `statuses`; returns its view. `inject` is a
 * `TestService`'s or a `Target`'s (see target.ts).
 */
export async function waitForJob(
  inject: Inject,
  id: string,
  statuses: readonly string[] = ['succeeded', 'failed', 'canceled'],
  headers: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const response = await inject({ method: 'GET', url: `/jobs/${id}`, headers })
    const view = response.json()
    if (statuses.includes(view.status)) return view
    if (Date.now() > deadline) throw new Error(`job ${id} still ${view.status}: ${response.body}`)
    // Not faster: the scaled-out API rate-limits each key (6000 requests a minute).
    await new Promise((resolve) => setTimeout(resolve, 40))
  }
}

/** Submits `csv` as a multipart upload on the primary route; returns the 202 body. */
export async function submitCsv(
  inject: Inject,
  csv: Buffer | string,
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<SubmittedJob> {
  const form = multipart(fields, [{ field: 'file', name: 'plays.csv', content: csv }])
  const response = await inject({
    method: 'POST',
    url: '/jobs',
    payload: form.payload,
    headers: { ...form.headers, ...headers },
  })
  if (response.statusCode !== 202)
    throw new Error(`submit: ${response.statusCode} ${response.body}`)
  return response.json()
}
