/**
 * Every error becomes `application/problem+json` (RFC 9457) here, and only here. Client errors
 * are logged at info level; server errors are logged with their cause and answered without
 * details. An error answered while the request body is still unread closes the connection, so
 * a refused upload is not read to its end.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { PROBLEM_CONTENT_TYPE, toProblem } from '../errors/problem.js'
import type { HttpApp } from '../types.js'
import { globalPlugin } from './global-plugin.js'

export const errorHandlerPlugin = globalPlugin('tally-problem-errors', async (app: HttpApp) => {
  app.setErrorHandler((error: FastifyError, request, reply) => sendProblem(error, request, reply))
  app.setNotFoundHandler((request, reply) => {
    const problem = toProblem({
      statusCode: 404,
      message: `no route ${request.method} ${path(request)}`,
    })
    return reply
      .code(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send({ ...problem.body, instance: path(request) })
  })
})

export function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const input = { ...(request.query as object), ...(request.params as object) }
  const problem = toProblem(error, input)
  if (reply.raw.destroyed) {
    // The client went away (an abandoned upload): nobody to answer, nothing went wrong here.
    request.log.info({ reason: (error as Error)?.message }, 'client closed the connection')
  } else if (problem.internal) {
    request.log.error({ err: error }, 'request failed')
  } else {
    request.log.info({ code: problem.body.code, detail: problem.body.detail }, 'request refused')
  }
  if (!request.raw.complete) reply.header('connection', 'close')
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value)
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({ ...problem.body, instance: path(request) })
}

/**
 * Fastify's `frameworkErrors`: errors the router raises before any route or hook runs (a URL
 * with bad percent-encoding, a path parameter past `maxParamLength`) answered as problems like
 * every other error, instead of Fastify's own JSON (which echoes the whole path back). A too
 * long parameter names nothing, so it is a 404, as an unknown id is.
 */
export function frameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  reply.header('x-content-type-options', 'nosniff')
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const problem = toProblem({
      statusCode: 404,
      message: `no route ${request.method} ${shorten(path(request))}: a path parameter is too long`,
    })
    return reply
      .code(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send({ ...problem.body, instance: shorten(path(request)) })
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    const problem = toProblem({
      statusCode: 400,
      message: 'the URL is not valid: it has a malformed percent-encoding',
    })
    return reply
      .code(400)
      .type(PROBLEM_CONTENT_TYPE)
      .send({ ...problem.body, instance: shorten(path(request)) })
  }
  return sendProblem(error, request, reply)
}

function shorten(text: string, maxChars = 100): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text
}

/** The request path without its query (which may hold keys or file names). */
function path(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url
}
