/**
 * Rate limiting per API key (per client address when the request has no valid key). Public
 * routes (health, readiness, metrics, docs) are not limited: probes and scrapers poll them.
 * Runs after the key is identified and before it is enforced (see auth.ts).
 */
import rateLimit from '@fastify/rate-limit'
import { HttpError } from '../errors/api-errors.js'
import type { HttpApp } from '../types.js'
import { isPublic } from './auth.js'
import { globalPlugin } from './global-plugin.js'

export interface RateLimitOptions {
  max: number
  timeWindowMs: number
}

export const rateLimitPlugin = globalPlugin(
  'tally-rate-limit',
  async (app: HttpApp, { max, timeWindowMs }: RateLimitOptions) => {
    await app.register(rateLimit, {
      global: true,
      max,
      timeWindow: timeWindowMs,
      keyGenerator: (request) => request.owner ?? `ip:${request.ip}`,
      allowList: (request) => isPublic(request),
      errorResponseBuilder: (_request, context) =>
        new HttpError(
          'RATE_LIMITED',
          `more than ${context.max} requests in ${context.after}; try again in ${Math.ceil(context.ttl / 1000)} seconds`,
        ),
    })
  },
)
