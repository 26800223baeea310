/**
 * `buildApp(deps)`: the Fastify app, from services built elsewhere (the composition root). It
 * does not listen: `tally serve` does, and tests use `inject` or listen on port 0.
 *
 * Order matters: the error handler first (it covers everything registered after), then the
 * hooks every route runs (security headers, key identification, rate limit, multipart), the
 * OpenAPI collector (it records routes as they are added), and last the routes.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify from 'fastify'
import { freeDiskBytes } from '../storage/fs/free-disk.js'
import { compatA } from './compat/a/index.js'
import { compatB } from './compat/b/index.js'
import { compatC } from './compat/c/index.js'
import { compatD } from './compat/d/index.js'
import { compatE } from './compat/e/index.js'
import { authPlugin } from './plugins/auth.js'
import { errorHandlerPlugin, frameworkError } from './plugins/error-handler.js'
import { metricsPlugin } from './plugins/metrics.js'
import { multipartPlugin } from './plugins/multipart.js'
import { rateLimitPlugin } from './plugins/rate-limit.js'
import { securityPlugin } from './plugins/security.js'
import { swaggerPlugin } from './plugins/swagger.js'
import { uploadIdsPlugin } from './plugins/upload-ids.js'
import { healthRoutes } from './routes/health.js'
import { jobRoutes } from './routes/jobs/index.js'
import { rootRoutes } from './routes/root.js'
import { tusRoutes } from './tus/index.js'
import { TUS_PATH, TusUploads } from './tus/tus-uploads.js'
import type { AppDeps, HttpApp } from './types.js'
import { UploadService } from './upload/upload-service.js'

/** Requests per key (or address) per minute when not configured otherwise. */
/** Unfinished tus uploads are kept this long, then removed (tus expiration extension). */
const DEFAULT_UPLOAD_EXPIRY_MS = 24 * 60 * 60 * 1000
const UPLOAD_CLEANUP_INTERVAL_MS = 10 * 60 * 1000

const DEFAULT_RATE_LIMIT = { max: 6000, timeWindowMs: 60_000 }

export async function buildApp(deps: AppDeps): Promise<HttpApp> {
  const { config, storage, jobs, http = {} } = deps
  const app: HttpApp = Fastify({
    loggerInstance: deps.logger,
    // The router's own errors (bad percent-encoding, a too long parameter) as problems too.
    frameworkErrors: frameworkError,
    routerOptions: {
      // `/jobs/{id}/result` (primary) and `/jobs/{id}/result/` (compat D) are different routes.
      ignoreTrailingSlash: false,
      // Ids and file names are short; a longer parameter is a 404 without further work.
      maxParamLength: 200,
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  const uploads = new UploadService({
    config,
    storage,
    jobs,
    freeDiskBytes: http.freeDiskBytes ?? freeDiskBytes,
    retryAfterSeconds: http.retryAfterSeconds ?? 10,
  })

  const uploadExpiryMs = http.uploadExpiryMs ?? DEFAULT_UPLOAD_EXPIRY_MS
  // With S3 storage, tus keeps its uploads in the same bucket (every API process sees them).
  const tus = await TusUploads.create({
    dataDir: config.dataDir,
    maxUploadBytes: config.maxUploadBytes,
    expiryMs: uploadExpiryMs,
    s3: config.storage.kind === 's3' ? { ...config.s3, url: config.storage.url } : undefined,
  })

  await app.register(errorHandlerPlugin)
  await app.register(securityPlugin, { corsOrigins: http.corsOrigins ?? config.corsOrigins })
  await app.register(authPlugin, { apiKeys: config.apiKeys })
  const rateLimit = http.rateLimit ?? DEFAULT_RATE_LIMIT
  if (rateLimit) await app.register(rateLimitPlugin, rateLimit)
  await app.register(uploadIdsPlugin, { path: TUS_PATH, uploads: tus })
  await app.register(multipartPlugin, { maxUploadBytes: config.maxUploadBytes })
  await app.register(swaggerPlugin, {
    version: deps.version ?? 'dev',
    apiKeys: config.apiKeys.length > 0,
  })
  await app.register(metricsPlugin, { registry: deps.metrics, jobs })

  await app.register(rootRoutes, { apiKeys: config.apiKeys })
  await app.register(healthRoutes, { jobs, storage })
  await app.register(jobRoutes, {
    jobs,
    storage,
    uploads,
    sseHeartbeatMs: http.sseHeartbeatMs ?? 15_000,
    tus,
  })
  // The sweep runs every 10 minutes, or as often as uploads expire when that is sooner.
  const cleanupIntervalMs = Math.min(UPLOAD_CLEANUP_INTERVAL_MS, Math.max(uploadExpiryMs, 100))
  await app.register(tusRoutes, { tus, cleanupIntervalMs })
  const compat = { jobs, storage, uploads }
  await app.register(compatA, compat)
  await app.register(compatB, compat)
  await app.register(compatC, compat)
  await app.register(compatD, compat)
  await app.register(compatE, compat)
  return app
}
