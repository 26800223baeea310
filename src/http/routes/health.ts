/**
 * `GET /health`: the process answers. `GET /ready`: it can reach its job store and its storage
 * (503 `NOT_READY` otherwise, naming which failed). Both are public and not rate limited.
 */
import type { JobBackend } from '../../jobs/backend.js'
import type { Storage } from '../../storage/storage.js'
import { isStorageError } from '../../storage/storage-error.js'
import { HttpError } from '../errors/api-errors.js'
import { problems } from '../schemas/common.js'
import { HealthSchema, ReadySchema } from '../schemas/service.js'
import type { HttpApp } from '../types.js'

/** A key that never exists: asking for it reaches the store without writing anything. */
const PROBE_KEY = 'ready-probe'

export interface HealthDeps {
  jobs: JobBackend
  storage: Storage
}

export async function healthRoutes(app: HttpApp, { jobs, storage }: HealthDeps): Promise<void> {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: { tags: ['service'], summary: 'Liveness', response: { 200: HealthSchema } },
    },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/ready',
    {
      config: { public: true },
      schema: {
        tags: ['service'],
        summary: 'Readiness: the job store and the storage answer',
        response: { 200: ReadySchema, ...problems(503) },
      },
    },
    async (request) => {
      const checks = {
        jobs: await check(() => jobs.counts()),
        storage: await check(async () => {
          try {
            await storage.stat(PROBE_KEY)
          } catch (error) {
            if (!isStorageError(error, 'E_BLOB_NOT_FOUND')) throw error
          }
        }),
      }
      const failed = Object.entries(checks).filter(([, state]) => state !== 'ok')
      if (failed.length > 0) {
        for (const [name, state] of failed)
          request.log.error({ err: state }, `${name} check failed`)
        const names = failed.map(([name]) => name)
        throw new HttpError('NOT_READY', `cannot reach: ${names.join(', ')}`, {
          extra: {
            checks: Object.fromEntries(
              Object.entries(checks).map(([k, v]) => [k, v === 'ok' ? 'ok' : 'failed']),
            ),
          },
        })
      }
      return { status: 'ready' as const, checks: { jobs: 'ok' as const, storage: 'ok' as const } }
    },
  )
}

async function check(probe: () => Promise<unknown>): Promise<'ok' | unknown> {
  try {
    await probe()
    return 'ok'
  } catch (error) {
    return error
  }
}
