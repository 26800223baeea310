/**
 * `GET /`: for a browser (Accept: text/html) the web UI built by Vite into `dist/web` (or a
 * short page when it was not built); for everyone else (and earlier clients, set A) the JSON
 * message that the service runs. The UI's bundles are under `/assets/`.
 */
import { readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { type Static, Type } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from '../errors/api-errors.js'
import { RootMessageSchema } from '../schemas/service.js'
import { ApiKeys, presentedKey } from '../services/api-keys.js'
import type { HttpApp } from '../types.js'

/** `dist/web` both from `src/http/routes` (tsx, tests) and `dist/http/routes` (built). */
export const WEB_DIR = join(import.meta.dirname, '../../../dist/web')

const ASSET_NAME = /^[\w.-]+$/
const ASSET_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>tally</title></head>
<body>
<h1>tally</h1>
<p>The service is running. Upload a CSV of song plays with <code>POST /jobs</code>, follow the job at
<code>/jobs/{job_id}</code> and download the totals from <code>/jobs/{job_id}/result</code>.</p>
<p>API documentation: <a href="/docs">/docs</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>).</p>
</body>
</html>
`

export const ROOT_MESSAGE =
  'tally is running: POST a CSV file to /jobs, then follow /jobs/{job_id}; API docs at /docs'

export interface RootOptions {
  apiKeys: readonly string[]
}

export async function rootRoutes(app: HttpApp, options: RootOptions): Promise<void> {
  const keys = new ApiKeys(options.apiKeys)

  app.get(
    '/',
    {
      // The page must load before anyone can type a key into it (it holds no data); the JSON
      // answer still needs a key, checked in the handler.
      config: { public: true },
      schema: {
        tags: ['service'],
        summary: 'Service message (JSON), or the web page for browsers',
        // JSON, or the HTML page as text: typed as both, documented as the JSON.
        response: {
          200: Type.Unsafe<Static<typeof RootMessageSchema> | string>(RootMessageSchema),
        },
      },
    },
    async (request, reply) => {
      if (wantsHtml(request)) {
        withoutUpgrade(reply)
        return reply.type('text/html; charset=utf-8').send(await page())
      }
      requireKey(keys, request)
      return { message: ROOT_MESSAGE }
    },
  )

  app.get<{ Params: { name: string } }>(
    '/assets/:name',
    { config: { public: true }, schema: { hide: true } },
    async (request, reply) => {
      const { name } = request.params
      const type = ASSET_TYPES[extname(name)]
      if (!ASSET_NAME.test(name) || type === undefined) return reply.callNotFound()
      let body: Buffer
      try {
        body = await readFile(join(WEB_DIR, 'assets', name))
      } catch {
        return reply.callNotFound()
      }
      // Vite puts a content hash in every asset name: the file never changes.
      return reply
        .type(type)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(body)
    },
  )
}

/** The built UI, or the placeholder when `npm run build` has not made it. */
async function page(): Promise<string> {
  try {
    return await readFile(join(WEB_DIR, 'index.html'), 'utf8')
  } catch {
    return PAGE
  }
}

/**
 * The page's Content-Security-Policy without helmet's `upgrade-insecure-requests`: the service
 * speaks plain HTTP, and a browser told to upgrade asks for the page's scripts over HTTPS, so
 * the UI would not load from any address but localhost.
 */
function withoutUpgrade(reply: FastifyReply): void {
  const name = 'content-security-policy'
  const csp = reply.getHeader(name) ?? reply.raw.getHeader(name)
  if (typeof csp !== 'string') return
  const kept = csp
    .split(';')
    .filter((directive) => directive.trim() !== 'upgrade-insecure-requests')
    .join(';')
  reply.raw.removeHeader(name)
  reply.header(name, kept)
}

/** The auth plugin's refusal, for the JSON answer of this public route. */
function requireKey(keys: ApiKeys, request: FastifyRequest): void {
  if (!keys.enabled) return
  const presented = presentedKey(request.headers)
  if (presented !== undefined && keys.identify(presented) !== undefined) return
  const reason = presented === undefined ? 'an API key is required' : 'the API key is not valid'
  throw new HttpError(
    'UNAUTHORIZED',
    `${reason}: send it as "Authorization: Bearer KEY" or "X-API-Key: KEY"`,
    { headers: { 'www-authenticate': 'Bearer' } },
  )
}

function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').toLowerCase().includes('text/html')
}
