/**
 * The error codes of the HTTP layer, and the list of every code a client of the API can receive
 * as an `application/problem+json` answer (HTTP codes, the service catalogue's codes the routes
 * let through, and the engine's codes an upload can be refused with). README.md's
 * `## HTTP API` section lists the same codes; `test/http/errors-documented.test.ts` checks both
 * ways.
 */
import { type ErrorEntry, SERVICE_ERRORS, type ServiceErrorCode } from '../../errors.js'

export const HTTP_ERRORS = {
  VALIDATION_FAILED: { status: 400, title: 'Invalid request' },
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  FILE_MISSING: { status: 400, title: 'No file in the upload' },
  MULTIPART_INVALID: { status: 400, title: 'Malformed multipart body' },
  CHUNK_INVALID: { status: 400, title: 'Invalid upload chunk' },
  UNAUTHORIZED: { status: 401, title: 'API key missing or not valid' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  UPLOAD_NOT_FOUND: { status: 404, title: 'No such upload' },
  UPLOAD_NOT_FINISHED: { status: 409, title: 'Upload not finished' },
  JOB_FAILED: { status: 409, title: 'Job failed: it has no result' },
  JOB_CANCELED: { status: 409, title: 'Job canceled: it has no result' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  RANGE_NOT_SATISFIABLE: { status: 416, title: 'Range not satisfiable' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  NOT_READY: { status: 503, title: 'Service not ready' },
} as const satisfies Record<string, ErrorEntry>

export type HttpErrorCode = keyof typeof HTTP_ERRORS

/** Service catalogue codes that reach clients through the routes (the rest stay internal). */
export const SERVICE_CODES_IN_API = [
  'JOB_NOT_FOUND',
  'JOB_NOT_FINISHED',
  'JOB_ALREADY_FINISHED',
  'INVALID_CURSOR',
  'RESULT_EXPIRED',
  'UPLOAD_TOO_LARGE',
  'INSUFFICIENT_STORAGE',
  'QUEUE_FULL',
  'E_STORAGE',
  'INTERNAL',
] as const satisfies readonly ServiceErrorCode[]

/** Engine codes an upload is refused with: bad options (400) and an unacceptable header (422). */
export const ENGINE_CODES_IN_API = [
  'INVALID_OPTION_ORDER',
  'INVALID_OPTION_ON_ERROR',
  'INVALID_OPTION_GROUP_BY',
  'INVALID_OPTION_SUM',
  'INVALID_OPTION_ESCAPE_FORMULAS',
  'CSV_EMPTY_FILE',
  'CSV_NOT_TEXT',
  'CSV_MISSING_COLUMNS',
  'CSV_DUPLICATE_COLUMN',
  'CSV_BAD_GZIP',
] as const

/** Every `code` an API answer can carry. */
export const API_ERROR_CODES: readonly string[] = [
  ...Object.keys(HTTP_ERRORS),
  ...SERVICE_CODES_IN_API,
  ...ENGINE_CODES_IN_API,
]

export type ApiErrorCode = HttpErrorCode | (typeof SERVICE_CODES_IN_API)[number]

/** The catalogue entry of an HTTP or service code. */
export function apiErrorEntry(code: ApiErrorCode): ErrorEntry {
  return Object.hasOwn(HTTP_ERRORS, code)
    ? HTTP_ERRORS[code as HttpErrorCode]
    : SERVICE_ERRORS[code as ServiceErrorCode]
}

/**
 * An error the HTTP layer raises on purpose, with a code of either catalogue; `extra` members
 * join the problem document (e.g. the job view with a 409), `headers` the answer.
 */
export class HttpError extends Error {
  override name = 'HttpError'
  readonly code: ApiErrorCode
  readonly extra: Readonly<Record<string, unknown>>
  readonly headers: Readonly<Record<string, string>>

  constructor(
    code: ApiErrorCode,
    message: string,
    options: {
      cause?: unknown
      extra?: Record<string, unknown>
      headers?: Record<string, string>
    } = {},
  ) {
    super(message, { cause: options.cause })
    this.code = code
    this.extra = options.extra ?? {}
    this.headers = options.headers ?? {}
  }

  get status(): number {
    return apiErrorEntry(this.code).status
  }
}

export function isHttpError(error: unknown): error is HttpError {
  return error instanceof HttpError
}
