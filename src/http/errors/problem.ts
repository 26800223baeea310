/**
 * Any thrown error -> an RFC 9457 problem document (`application/problem+json`): `type`,
 * `title`, `status`, `detail`, plus our stable `code`, and `line`/`column` when a CSV row caused
 * it. Errors at 500 and above never show their message: the caller logs the cause instead.
 */

import { isEngineError } from '../../engine/index.js'
import {
  httpStatusOf,
  isServiceError,
  SERVICE_ERRORS,
  type ServiceErrorCode,
} from '../../errors.js'
import { apiErrorEntry, HTTP_ERRORS, type HttpErrorCode, isHttpError } from './api-errors.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8'

export interface ProblemDocument {
  type: string
  title: string
  status: number
  detail: string
  code: string
  instance?: string
  line?: number
  column?: string
  [extension: string]: unknown
}

export interface ProblemAnswer {
  status: number
  body: ProblemDocument
  headers: Record<string, string>
  /** True when the error is ours, not the client's: log it with its cause. */
  internal: boolean
}

/** What Fastify and its plugins throw: a code like `FST_ERR_CTP_INVALID_MEDIA_TYPE`, a status. */
interface FrameworkError {
  code?: string
  statusCode?: number
  message: string
  validation?: ValidationIssue[]
  validationContext?: string
}

interface ValidationIssue {
  keyword: string
  instancePath: string
  message?: string
  params?: Record<string, unknown>
}

/** Query and form fields that are job options: a bad value gets the engine's own code. */
const OPTION_FIELDS: Record<string, string> = {
  order: 'INVALID_OPTION_ORDER',
  on_error: 'INVALID_OPTION_ON_ERROR',
  group_by: 'INVALID_OPTION_GROUP_BY',
  sum: 'INVALID_OPTION_SUM',
  escape_formulas: 'INVALID_OPTION_ESCAPE_FORMULAS',
}

/** 5xx answers whose message we wrote for the client and which reveal nothing internal. */
const SAFE_SERVER_ERRORS = new Set(['QUEUE_FULL', 'INSUFFICIENT_STORAGE', 'NOT_READY'])

export function problemType(code: string): string {
  return `urn:tally:error:${code}`
}

export function toProblem(error: unknown, input: Record<string, unknown> = {}): ProblemAnswer {
  if (isHttpError(error)) {
    return answer(error.status, error.code, apiErrorEntry(error.code).title, error.message, {
      extra: error.extra,
      headers: error.headers,
    })
  }
  if (isServiceError(error)) {
    const entry = SERVICE_ERRORS[error.code as ServiceErrorCode]
    return answer(entry.status, error.code, entry.title, error.message)
  }
  if (isEngineError(error)) {
    const status = httpStatusOf(error.code)
    const extra: Record<string, unknown> = {}
    if (error.line !== undefined) extra.line = error.line
    if (error.column !== undefined) extra.column = error.column
    return answer(status, error.code, engineTitle(status), error.message, { extra })
  }
  const framework = error as FrameworkError
  if (framework && Array.isArray(framework.validation)) return validationProblem(framework, input)
  const status = framework?.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = codeForClientStatus(status)
    const entry = apiErrorEntry(code)
    return answer(entry.status, code, entry.title, framework.message)
  }
  return answer(500, 'INTERNAL', SERVICE_ERRORS.INTERNAL.title, '')
}

function answer(
  status: number,
  code: string,
  title: string,
  detail: string,
  options: { extra?: Readonly<Record<string, unknown>>; headers?: Record<string, string> } = {},
): ProblemAnswer {
  const internal = status >= 500 && !SAFE_SERVER_ERRORS.has(code)
  const shown = internal
    ? 'the server could not complete the request; the cause has been logged'
    : detail
  return {
    status,
    body: { type: problemType(code), title, status, detail: shown, code, ...options.extra },
    headers: options.headers ?? {},
    internal,
  }
}

function engineTitle(status: number): string {
  if (status === 400) return 'Invalid option'
  if (status === 422) return 'The file cannot be processed'
  return SERVICE_ERRORS.INTERNAL.title
}

/** Fastify's and its plugins' own 4xx errors, by status (their codes are not ours to publish). */
function codeForClientStatus(status: number): HttpErrorCode | 'UPLOAD_TOO_LARGE' {
  switch (status) {
    case 401:
      return 'UNAUTHORIZED'
    case 404:
      return 'ROUTE_NOT_FOUND'
    case 406:
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE'
    case 413:
      return 'UPLOAD_TOO_LARGE'
    case 416:
      return 'RANGE_NOT_SATISFIABLE'
    case 429:
      return 'RATE_LIMITED'
    default:
      return 'BAD_REQUEST'
  }
}

/**
 * A schema validation failure. A job option outside its `enum` answers like the engine would
 * (`INVALID_OPTION_ORDER`, naming the allowed values and the value received); anything else is
 * `VALIDATION_FAILED` saying which part of the request and which field.
 */
function validationProblem(error: FrameworkError, input: Record<string, unknown>): ProblemAnswer {
  const issue = error.validation![0]!
  const field = issue.instancePath.replace(/^\//, '').split('/')[0] ?? ''
  const optionCode = OPTION_FIELDS[field]
  if (optionCode && issue.keyword === 'enum' && Array.isArray(issue.params?.allowedValues)) {
    const allowed = issue.params.allowedValues as unknown[]
    const got = JSON.stringify(String(input[field] ?? ''))
    return answer(
      400,
      optionCode,
      engineTitle(400),
      `${field} must be one of ${allowed.join(', ')}, got ${got}`,
      { extra: { allowed_values: allowed } },
    )
  }
  const where = error.validationContext ?? 'request'
  const name = field === '' ? where : `${where} field ${JSON.stringify(field)}`
  return answer(
    400,
    'VALIDATION_FAILED',
    HTTP_ERRORS.VALIDATION_FAILED.title,
    `${name} ${issue.message ?? 'is not valid'}`,
  )
}
