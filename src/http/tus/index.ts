/**
 * `/uploads`: tus 1.0 resumable uploads, handed to `@tus/server` as raw Node request/response
 * (its Fastify integration). The app's hooks still run first (API key, rate limit); then, with
 * keys on, creation gets the owner in its metadata and any other request on someone else's
 * upload is answered 404 before tus sees it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from '../errors/api-errors.js'
import type { HttpApp } from '../types.js'
import { TUS_PATH, type TusUploads } from './tus-uploads.js'

export interface TusRoutesOptions {
  tus: TusUploads
  /** How often expired unfinished uploads are looked for. */
  cleanupIntervalMs: number
}

export async function tusRoutes(app: HttpApp, { tus, cleanupIntervalMs }: TusRoutesOptions) {
  // tus reads the body itself (PATCH chunks): leave it unread. This plugin's context only.
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) =>
    done(null),
  )

  const timer = setInterval(() => {
    tus.cleanUpExpired().catch((error: unknown) => app.log.warn({ err: error }, 'tus cleanup'))
  }, cleanupIntervalMs)
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    tus.close()
  })

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const owner = request.owner
    if (owner !== null) {
      if (request.method === 'POST') {
        tus.setOwner(request.raw, owner)
      } else if (request.method !== 'OPTIONS') {
        const id = (request.params as { '*'?: string })['*'] ?? ''
        const found = await tus.find(id, owner)
        if (found.state === 'missing') {
          throw new HttpError('UPLOAD_NOT_FOUND', `no upload ${JSON.stringify(id)}`)
        }
      }
    }
    reply.hijack()
    await tus.server.handle(request.raw, reply.raw)
  }

  app.all(TUS_PATH, { schema: { hide: true } }, handler)
  app.all(`${TUS_PATH}/*`, { schema: { hide: true } }, handler)
}
