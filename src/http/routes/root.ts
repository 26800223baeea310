/**
 * `GET /`: for a browser (Accept: text/html) the web UI built by Vite into `dist/web` (or a
 * short page when it was not built); for everyone else (and earlier clients, set A) the JSON
 * message that the service runs. The UI's bundles are under `/assets/`.
 */
import { readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { type Static, Type } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { RootMessageSchema } from '../schemas/service.js'
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

export async function rootRoutes(app: HttpApp): Promise<void> {
  app.get(
    '/',
    {
      // The page must load before anyone can type a key into it; it holds no data.
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
      if (wantsHtml(request)) return reply.type('text/html; charset=utf-8').send(await page())
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

function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').toLowerCase().includes('text/html')
}
