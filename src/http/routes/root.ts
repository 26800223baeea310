/**
 * `GET /`: for a browser (Accept: text/html) a placeholder page until the web UI lands; for
 * everyone else (and earlier clients, set A) the JSON message that the service runs.
 */
import { type Static, Type } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { RootMessageSchema } from '../schemas/service.js'
import type { HttpApp } from '../types.js'

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
      if (wantsHtml(request)) return reply.type('text/html; charset=utf-8').send(PAGE)
      return { message: ROOT_MESSAGE }
    },
  )
}

function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').toLowerCase().includes('text/html')
}
