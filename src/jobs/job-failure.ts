import type { JobErrorInfo } from './job.js'

/**
 * A permanent failure: the runner throws it when retrying cannot help (the file is malformed,
 * the input is gone). The backend fails the job at once with `info` as its error. Any other
 * error a runner throws is transient and retried with backoff (BullMQ's `UnrecoverableError`
 * semantics, G7).
 */
export class JobFailure extends Error {
  override name = 'JobFailure'
  readonly info: JobErrorInfo

  constructor(info: JobErrorInfo, options?: { cause?: unknown }) {
    super(info.message, options)
    this.info = info
  }
}

export function isJobFailure(error: unknown): error is JobFailure {
  return error instanceof JobFailure
}
