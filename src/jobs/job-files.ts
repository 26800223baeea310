/** Deleting a job's files, shared by the job backends. */
import type { Storage } from '../storage/storage.js'
import type { Logger } from './backend.js'

/**
 * Deletes the given keys of a job (nulls skipped). A failure is only logged: the retention
 * sweep deletes the job's files again later.
 */
export async function deleteJobFiles(
  storage: Storage,
  logger: Logger,
  jobId: string,
  keys: readonly (string | null)[],
): Promise<void> {
  for (const key of keys) {
    if (key === null) continue
    try {
      await storage.delete(key)
    } catch (error) {
      logger.warn({ err: error, jobId, key }, 'could not delete a job file')
    }
  }
}
