/**
 * The BullMQ (Redis) job backend. The composition root loads this module with `await import()`
 * only when `REDIS_URL` is set, so an embedded run never loads Redis code (G4).
 */
import { BullmqJobBackend, type BullmqJobBackendOptions } from './bullmq-job-backend.js'

export { BullmqJobBackend, type BullmqJobBackendOptions }

/** A backend over `options.redisUrl` (or an injected `connection`); call `init()` next. */
export function createBullmqJobBackend(options: BullmqJobBackendOptions): BullmqJobBackend {
  return new BullmqJobBackend(options)
}
