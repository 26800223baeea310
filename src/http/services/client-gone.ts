/**
 * An AbortSignal that aborts when the client goes away before it got its answer: handed to
 * storage writes, so an abandoned upload stops at once and leaves nothing behind.
 */
import type { FastifyReply } from 'fastify'

export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('the client closed the connection'))
  })
  return controller.signal
}

/** The request's declared body size, when it declares one. */
export function contentLength(headers: { 'content-length'?: string }): number | undefined {
  const value = headers['content-length']
  if (value === undefined || !/^\d+$/.test(value)) return undefined
  return Number(value)
}
