/**
 * Security headers (helmet) on every answer, and CORS only when origins are configured: a
 * browser UI is served from this same origin, so cross-origin access is off by default.
 */
import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import type { HttpApp } from '../types.js'
import { globalPlugin } from './global-plugin.js'

export interface SecurityOptions {
  corsOrigins: readonly string[] | undefined
}

export const securityPlugin = globalPlugin(
  'tally-security',
  async (app: HttpApp, { corsOrigins }: SecurityOptions) => {
    await app.register(helmet, {
      // Downloads and the API are same-origin; the Swagger UI needs nothing beyond 'self'.
      crossOriginResourcePolicy: { policy: 'same-origin' },
    })
    if (corsOrigins && corsOrigins.length > 0) {
      await app.register(cors, {
        origin: [...corsOrigins],
        exposedHeaders: ['location', 'content-disposition', 'content-range', 'retry-after'],
      })
    }
  },
)
