/** The types the app, its plugins and its routes share. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { Config } from '../config.js'
import type { JobBackend } from '../jobs/backend.js'
import type { Storage } from '../storage/storage.js'

export type HttpApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>

/** Settings of the HTTP layer that the environment does not carry (yet); all have defaults. */
export interface HttpOptions {
  /** Requests per key (or per address without a key) and window; `false` turns it off. */
  rateLimit?: { max: number; timeWindowMs: number } | false
  /** Origins allowed by CORS. Default: none (CORS off). */
  corsOrigins?: readonly string[]
  /** Seconds a client is told to wait when the queue is full. Default 10. */
  retryAfterSeconds?: number
  /** Free bytes on the filesystem holding `path`; replaceable to test the 507 answer. */
  freeDiskBytes?: (path: string) => Promise<number>
  /** SSE comment lines keep idle proxies from closing the stream. Default 15 000. */
  sseHeartbeatMs?: number
  /** Unfinished tus uploads older than this are removed. Default 24 hours. */
  uploadExpiryMs?: number
}

export interface AppDeps {
  config: Config
  storage: Storage
  jobs: JobBackend
  logger: FastifyBaseLogger
  metrics: Registry
  http?: HttpOptions
  /** Shown in the OpenAPI document. */
  version?: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who asks: the id of the API key used (never the key), or null when the service runs
     * without keys. Jobs are owned by it; a key sees only its own.
     */
    owner: string | null
  }
  interface FastifyContextConfig {
    /** Reachable without an API key (health, readiness, metrics, docs). */
    public?: boolean
  }
}
