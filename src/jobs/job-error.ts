import { ServiceError } from '../errors.js'

export type JobErrorCode =
  | 'JOB_NOT_FOUND'
  | 'JOB_ID_TAKEN'
  | 'JOB_ALREADY_FINISHED'
  | 'JOB_NOT_FINISHED'
  | 'JOB_INVALID_TRANSITION'
  | 'INVALID_CURSOR'
  | 'QUEUE_FULL'

/** What a JobBackend method rejects with when the request itself cannot be honoured. */
export class JobError extends ServiceError<JobErrorCode> {
  override name = 'JobError'
}

export function isJobError(error: unknown, code?: JobErrorCode): error is JobError {
  return error instanceof JobError && (code === undefined || error.code === code)
}
