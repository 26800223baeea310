/**
 * Periodic upkeep of the BullMQ backend, run by the started backends (the workers), one at a
 * time across all of them (a Redis lock per interval):
 *
 * - retention: finished jobs past the retention period lose their files and get `expiredAt`,
 *   as in the embedded backend;
 * - reconciliation: every unfinished record must have a BullMQ job to drive it. One that has none
 *   (the process died between writing the record and adding the BullMQ job, or Redis lost it) is
 *   added again; one whose BullMQ job failed without the record saying so (BullMQ gave up on a
 *   job that stalled too often) is marked failed. Adding again is always safe: a run claims the
 *   record first and does nothing for a finished job.
 */
import type { Queue } from 'bullmq'
import type { Storage } from '../../storage/storage.js'
import type { JobEvent, Logger } from '../backend.js'
import type { Job } from '../job.js'
import { partsPrefix } from '../job-parts.js'
import type { JobRecords } from './job-records.js'
import { statusOfBullmqState } from './job-state.js'

export interface MaintenanceDeps {
  records: JobRecords
  queue: Queue
  storage: Storage
  logger: Logger
  emit: (type: JobEvent['type'], job: Job) => void
  addToQueue: (id: string) => Promise<void>
}

/** Unfinished records looked at per reconciliation pass, per status. */
const RECONCILE_BATCH = 1000
/** Younger records may be in the middle of being submitted or claimed. */
const RECONCILE_MIN_AGE_MS = 30_000

export async function sweepExpired(
  deps: MaintenanceDeps,
  resultTtlSeconds: number,
  now: Date,
): Promise<number> {
  const { records, storage, logger } = deps
  let expired = 0
  for (const job of await records.expirable(now.getTime() - resultTtlSeconds * 1000)) {
    try {
      for (const key of fileKeys(job)) await storage.delete(key)
      // Parts a split run left (its worker died for good): normally gone when the job ended.
      for await (const key of storage.list(partsPrefix(job.id))) await storage.delete(key)
    } catch (error) {
      logger.warn({ err: error, jobId: job.id }, 'could not delete an expired job’s files')
      continue
    }
    if (await records.markExpired(job.id, now.toISOString())) expired++
  }
  if (expired > 0) logger.info({ expired }, 'expired finished jobs’ files')
  return expired
}

export async function reconcile(deps: MaintenanceDeps, now: Date): Promise<void> {
  const { records, queue, logger } = deps
  for (const status of ['queued', 'running'] as const) {
    for (const id of await records.idsIn(status, RECONCILE_BATCH)) {
      const job = await records.get(id)
      if (!job || now.getTime() - Date.parse(job.startedAt ?? job.createdAt) < RECONCILE_MIN_AGE_MS)
        continue
      const bullmq = statusOfBullmqState(await queue.getJobState(id))
      if (bullmq === 'missing') {
        logger.warn({ jobId: id, status }, 'job had no BullMQ job; queueing it again')
        await deps.addToQueue(id)
      } else if (bullmq === 'failed') {
        await failInterrupted(deps, id, 'BullMQ failed the job')
      }
    }
  }
}

/**
 * Marks failed a job that BullMQ failed without a run recording it: it stalled (its worker
 * died) more often than allowed. Conditional, so every backend that hears of it may try.
 */
export async function failInterrupted(
  deps: MaintenanceDeps,
  id: string,
  reason: string,
): Promise<void> {
  const failed = await deps.records.transition(id, {
    from: ['queued', 'running'],
    to: 'failed',
    patch: {
      finishedAt: new Date().toISOString(),
      error: {
        code: 'INTERNAL',
        message: 'the job was interrupted too many times and will not be tried again',
        line: null,
        column: null,
      },
    },
  })
  if (failed.kind !== 'ok') return
  deps.logger.error({ jobId: id, reason }, 'job interrupted too often')
  deps.emit('status', failed.job)
  try {
    await deps.storage.delete(failed.job.input.key)
  } catch (error) {
    deps.logger.warn({ err: error, jobId: id }, 'could not delete a job file')
  }
}

export function fileKeys(job: Job): string[] {
  const keys = [job.input.key]
  if (job.result) keys.push(job.result.outputKey)
  if (job.result?.rejectsKey) keys.push(job.result.rejectsKey)
  return keys
}
