/**
 * What the shared HTTP suites (`test/http/suites/`) run against: a `Deployment` of tally, from
 * which each suite starts its own `Target`. Two deployments exist:
 *
 * - `embedded` (this file): `compose()` in the test process over a temp directory (SQLite
 *   queue, filesystem storage), listening on 127.0.0.1; a fresh service per target. `inject` is
 *   Fastify's in-process injection.
 * - `scaled-out` (`scaled-out.ts`): a real `redis-server`, s3rver, one `tally serve` process and
 *   two `tally worker` processes, started once per test file and shared by every target. Each
 *   target gets its own API keys, so it sees only its own jobs (`GET /jobs` lists exactly what
 *   the suite submitted). `inject` is a real HTTP request.
 *
 * A suite speaks HTTP only (`inject`, or `url` for real sockets); what HTTP cannot do it asks
 * of the target (`release` held jobs, `storedFiles`), and the few embedded-only checks reach
 * for `service`, which only the embedded target has.
 */
import { readdir, rm } from 'node:fs/promises'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { join, relative } from 'node:path'
import type { Service } from '../../../src/compose.js'
import { startService } from './service.js'

export type DeploymentName = 'embedded' | 'scaled-out'

export interface InjectRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS'
  /** Path and query, e.g. `/jobs?limit=2`. */
  url: string
  payload?: Buffer | string
  headers?: Record<string, string>
}

/** The parts of a response the suites read (the shape of Fastify's `inject` response). */
export interface Reply {
  statusCode: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
  rawPayload: Buffer
  // biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies of many shapes
  json<T = any>(): T
}

export type Inject = (request: InjectRequest) => Promise<Reply>

export interface TargetOptions {
  /** Jobs wait in the queue until `release()` (embedded: the run loop is not started). */
  held?: boolean
  /**
   * Requests carry no key of their own: the suite sends `keys` itself (the embedded service is
   * started with them as TALLY_API_KEYS; the scaled-out API always checks keys).
   */
  auth?: boolean
  /**
   * A small upload limit where the deployment can have one (embedded: 200 000 bytes). The
   * scaled-out API has one limit for every suite; read `maxUploadBytes` for the one in force.
   */
  smallUploadLimit?: boolean
  /** Embedded only: more environment for the service (the scaled-out processes have their own). */
  env?: Record<string, string>
}

export interface Target {
  readonly deployment: DeploymentName
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  /** Headers every request of this target carries: its own API key where the API checks keys. */
  readonly headers: Readonly<Record<string, string>>
  /** One request with `headers` underneath the request's own. */
  readonly inject: Inject
  /** Two API keys the API accepts, this target's own (used with `auth`). */
  readonly keys: readonly [string, string]
  /** TALLY_MAX_UPLOAD_BYTES of the API. */
  readonly maxUploadBytes: number
  /** Lets held jobs run (see `TargetOptions.held`). */
  release(): Promise<void>
  /**
   * Every file the storage holds, as keys relative to its root (`uploads/job_...`), temporary
   * ones included: the raw directory listing embedded, the bucket's objects scaled out.
   */
  storedFiles(): Promise<string[]>
  /** Deletes one of them behind the service's back (a key as `storedFiles` gives it). */
  removeStoredFile(key: string): Promise<void>
  /** The in-process service: embedded only, for the checks HTTP cannot make. */
  readonly service?: Service
  close(): Promise<void>
}

export interface Deployment {
  readonly name: DeploymentName
  start(options?: TargetOptions): Promise<Target>
}

/** The keys an embedded target with `auth` is started with. */
const EMBEDDED_KEYS = ['alice-key-1', 'bob-key-2'] as const
const EMBEDDED_SMALL_LIMIT = 200_000

export const embedded: Deployment = {
  name: 'embedded',
  async start(options = {}) {
    const env: Record<string, string> = { ...options.env }
    if (options.auth) env.TALLY_API_KEYS = EMBEDDED_KEYS.join(',')
    if (options.smallUploadLimit) env.TALLY_MAX_UPLOAD_BYTES = String(EMBEDDED_SMALL_LIMIT)
    const t = await startService({ env, listen: true, startJobs: !options.held })
    const { app, config } = t.service
    let released: Promise<void> | undefined = options.held ? undefined : Promise.resolve()
    return {
      deployment: 'embedded',
      url: t.url,
      headers: {},
      inject: (request) => app.inject(request),
      keys: EMBEDDED_KEYS,
      maxUploadBytes: config.maxUploadBytes,
      release: async () => {
        released ??= t.service.startJobs()
        await released
      },
      async storedFiles() {
        const storage = config.storage
        if (storage.kind !== 'file') throw new Error('the embedded storage is a directory')
        const names = await readdir(storage.root, { recursive: true, withFileTypes: true })
        return names
          .filter((entry) => entry.isFile())
          .map((entry) => relative(storage.root, join(entry.parentPath, entry.name)))
      },
      async removeStoredFile(key) {
        if (config.storage.kind !== 'file') throw new Error('the embedded storage is a directory')
        await rm(join(config.storage.root, key))
      },
      service: t.service,
      close: () => t.close(),
    }
  },
}

/**
 * `Inject` over real HTTP to `baseUrl`, every request with `defaults` under its own headers.
 * Bodies are read as bytes, never decoded (a gzip answer stays gzip, as with `inject`). An
 * error after the answer arrived (the server closing while the rest of a refused body is still
 * being written) does not matter: the answer is what counts.
 */
export function httpInject(baseUrl: string, defaults: Readonly<Record<string, string>>): Inject {
  return (request) =>
    new Promise<Reply>((resolve, reject) => {
      const payload = request.payload === undefined ? undefined : Buffer.from(request.payload)
      const headers: Record<string, string> = { ...defaults, ...request.headers }
      const named = (name: string) => Object.keys(headers).some((key) => key.toLowerCase() === name)
      if (payload && !named('content-length') && !named('transfer-encoding')) {
        headers['content-length'] = String(payload.byteLength)
      }
      let answered = false
      const req = httpRequest(`${baseUrl}${request.url}`, { method: request.method, headers })
      req.on('response', (res) => {
        answered = true
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => resolve(reply(res.statusCode ?? 0, res.headers, Buffer.concat(chunks))))
      })
      req.on('error', (error) => {
        if (!answered) reject(error)
      })
      req.end(payload)
    })
}

function reply(statusCode: number, headers: IncomingHttpHeaders, rawPayload: Buffer): Reply {
  const body = rawPayload.toString()
  return {
    statusCode,
    headers,
    body,
    rawPayload,
    json: () => JSON.parse(body),
  }
}
