/**
 * Optional API keys (config `apiKeys`). When set, every route but the public ones (health,
 * readiness, metrics, docs, the OpenAPI document) needs `Authorization: Bearer KEY` or
 * `X-API-Key: KEY`, and `request.owner` is the key's id, which scopes every job lookup.
 *
 * The key is identified on `onRequest` (so the rate limiter can count per key) but refused on
 * `preParsing`, after the rate limiter's route hook: guessing keys is rate limited too.
 */
import type { FastifyRequest } from 'fastify'
import { HttpError } from '../errors/api-errors.js'
import { ApiKeys, presentedKey } from '../services/api-keys.js'
import type { HttpApp } from '../types.js'
import { globalPlugin } from './global-plugin.js'

export interface AuthOptions {
  apiKeys: readonly string[]
}

const refusal = Symbol('tally.authRefusal')

type WithRefusal = FastifyRequest & { [refusal]?: string }

export const authPlugin = globalPlugin('tally-auth', async (app: HttpApp, options: AuthOptions) => {
  const keys = new ApiKeys(options.apiKeys)
  app.decorateRequest('owner', null)
  if (!keys.enabled) return

  app.addHook('onRequest', async (request: WithRefusal) => {
    if (isPublic(request)) return
    const presented = presentedKey(request.headers)
    const owner = presented === undefined ? undefined : keys.identify(presented)
    if (owner !== undefined) request.owner = owner
    else
      request[refusal] =
        presented === undefined ? 'an API key is required' : 'the API key is not valid'
  })

  app.addHook('preParsing', async (request: WithRefusal) => {
    const reason = request[refusal]
    if (reason === undefined) return
    throw new HttpError(
      'UNAUTHORIZED',
      `${reason}: send it as "Authorization: Bearer KEY" or "X-API-Key: KEY"`,
      { headers: { 'www-authenticate': 'Bearer' } },
    )
  })
})

export function isPublic(request: FastifyRequest): boolean {
  return request.routeOptions.config?.public === true
}
