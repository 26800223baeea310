/**
 * The service's error catalogue: every code a service layer (storage, jobs, later http) can
 * raise, with the HTTP status it maps to and a short title for `application/problem+json`.
 * The engine keeps its own catalogue (`src/engine/errors.ts`); `httpStatusOf` covers both so the
 * HTTP layer has one place to ask. Errors always keep the error they wrap as `cause` (G6).
 */
import { FILE_ERROR_CODES, ROW_ERROR_CODES } from './engine/index.js'

export interface ErrorEntry {
  /** HTTP status the code answers with when it reaches a client. */
  readonly status: number
  /** One line, the same for every occurrence: the problem+json `title`. */
  readonly title: string
}

export const SERVICE_ERRORS = {
  // Storage (BlobStore port). Codes as in flydrive's `E_` convention.
  E_BLOB_NOT_FOUND: { status: 404, title: 'No stored file under this key' },
  E_INVALID_KEY: { status: 400, title: 'Invalid storage key' },
  E_INVALID_RANGE: { status: 416, title: 'Invalid byte range' },
  E_UNSUPPORTED: { status: 500, title: 'Storage capability not available' },
  E_STORAGE: { status: 503, title: 'Storage failed' },
  // Jobs (JobBackend port and runner).
  JOB_NOT_FOUND: { status: 404, title: 'Job not found' },
  JOB_ID_TAKEN: { status: 409, title: 'A job with this id exists' },
  JOB_ALREADY_FINISHED: { status: 409, title: 'Job already finished' },
  JOB_NOT_FINISHED: { status: 409, title: 'Job not finished' },
  JOB_INVALID_TRANSITION: { status: 409, title: 'Job status cannot change this way' },
  JOB_INPUT_MISSING: { status: 422, title: 'The uploaded file is no longer available' },
  INVALID_CURSOR: { status: 400, title: 'Invalid pagination cursor' },
  QUEUE_FULL: { status: 503, title: 'Too many jobs waiting' },
  RESULT_EXPIRED: { status: 410, title: 'Result expired' },
  // Raised by the HTTP layer; listed here so the catalogue stays whole.
  UPLOAD_TOO_LARGE: { status: 413, title: 'Upload too large' },
  INSUFFICIENT_STORAGE: { status: 507, title: 'Not enough free disk space' },
  // Never shown to a client with details: the cause is logged instead.
  INTERNAL: { status: 500, title: 'Internal error' },
  CONFIG_INVALID: { status: 500, title: 'Invalid configuration' },
} as const satisfies Record<string, ErrorEntry>

export type ServiceErrorCode = keyof typeof SERVICE_ERRORS

/** An error a service layer raises on purpose: a stable code, a message, and the cause. */
export class ServiceError<C extends ServiceErrorCode = ServiceErrorCode> extends Error {
  override name = 'ServiceError'
  readonly code: C

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  get status(): number {
    return SERVICE_ERRORS[this.code].status
  }
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof ServiceError
}

const engineRowCodes: readonly string[] = ROW_ERROR_CODES
const engineFileCodes: readonly string[] = FILE_ERROR_CODES

/**
 * The HTTP status for a service or engine code. Engine codes: bad options are the request's
 * fault (400); problems in the file are well-formed requests with unprocessable content (422).
 * Unknown codes are 500, so a new code nobody mapped never passes as a client error.
 */
export function httpStatusOf(code: string): number {
  if (Object.hasOwn(SERVICE_ERRORS, code)) return SERVICE_ERRORS[code as ServiceErrorCode].status
  if (code.startsWith('INVALID_OPTION_')) return 400
  if (engineRowCodes.includes(code) || engineFileCodes.includes(code)) return 422
  return 500
}
