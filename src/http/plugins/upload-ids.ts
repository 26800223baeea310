/**
 * tus requests on `/uploads/{id}` that name no upload are answered here, as a JSON problem
 * (`404 UPLOAD_NOT_FOUND`), before `@tus/server` sees them: an id that cannot be one the server
 * made (a path in it: `../x`, `a/b`, NUL, backslash; too long; not ASCII), or one that does not
 * exist. A creation `POST` goes to `/uploads` itself, never below it (tus would otherwise
 * create an upload at any URL under it). Runs after the API key check, so a request without a
 * key still gets its 401 first. With keys on, the tus route itself looks the upload up for its
 * owner (`tus/index.ts`), so the lookup here is only made without keys.
 */
import type { FastifyRequest } from 'fastify'
import { HttpError } from '../errors/api-errors.js'
import type { HttpApp } from '../types.js'
import { globalPlugin } from './global-plugin.js'

/** The ids `@tus/server` makes (hex); the same pattern `TusUploads.find` accepts. */
export const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/

export interface UploadIdsOptions {
  /** The tus path, e.g. `/uploads`: its wildcard route `/uploads/*` is guarded. */
  path: string
  /** Looks an upload up (`TusUploads.find`). */
  uploads: { find(id: string, owner: string | null): Promise<{ state: string }> }
}

export const uploadIdsPlugin = globalPlugin(
  'tally-upload-ids',
  async (app: HttpApp, { path, uploads }: UploadIdsOptions) => {
    const route = `${path}/*`
    app.addHook('preHandler', async (request: FastifyRequest) => {
      if (request.routeOptions.url !== route || request.method === 'OPTIONS') return
      const id = (request.params as { '*'?: string })['*'] ?? ''
      if (request.method === 'POST') {
        throw new HttpError(
          'ROUTE_NOT_FOUND',
          `no route POST ${path}/${shown(id)}: create an upload with POST ${path}`,
        )
      }
      const missing =
        !UPLOAD_ID.test(id) ||
        (request.owner === null && (await uploads.find(id, null)).state === 'missing')
      if (missing) throw new HttpError('UPLOAD_NOT_FOUND', `no upload ${shown(id)}`)
    })
  },
)

function shown(id: string): string {
  return JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id)
}
