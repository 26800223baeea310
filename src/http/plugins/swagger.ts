/**
 * The OpenAPI document, generated from the routes' TypeBox schemas: `GET /openapi.json`, and the
 * Swagger UI at `/docs`. Both are public (no API key). Registered before the routes, which it
 * collects as they are added.
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { HttpApp } from '../types.js'
import { globalPlugin } from './global-plugin.js'

export interface SwaggerOptions {
  version: string
  apiKeys: boolean
}

export const swaggerPlugin = globalPlugin(
  'tally-swagger',
  async (app: HttpApp, { version, apiKeys }: SwaggerOptions) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'tally',
          version,
          description:
            'Asynchronous CSV aggregation: upload a CSV of song plays, get a job id at once, follow its progress, download the totals. Errors are application/problem+json with a stable `code`.',
        },
        tags: [
          { name: 'jobs', description: 'The primary API' },
          { name: 'service', description: 'Health, readiness, metrics' },
          { name: 'compat', description: 'Routes of the earlier versions, kept for their clients' },
        ],
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer' },
            apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          },
        },
        security: apiKeys ? [{ bearer: [] }, { apiKeyHeader: [] }] : [],
      },
    })
    app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () =>
      app.swagger(),
    )
    // Its own context, so the onRoute hook marks only the UI's routes public.
    await app.register(async (docs) => {
      docs.addHook('onRoute', (route) => {
        route.config = { ...route.config, public: true }
      })
      await docs.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
    })
  },
)
