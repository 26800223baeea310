/**
 * Reads a multipart upload part by part (`@fastify/multipart`'s `parts()`), handing the one file
 * part to `onFile` as a stream while the request is still arriving, and collecting the text
 * fields before and after it. Other file parts are drained and ignored.
 */
import type { MultipartFile, MultipartValue } from '@fastify/multipart'
import type { FastifyRequest } from 'fastify'
import { HttpError } from '../errors/api-errors.js'

export type FormFields = Record<string, string>

export interface MultipartResult<T> {
  /** Every text field (the first value of each name). */
  fields: FormFields
  /** What `onFile` returned; undefined when the request had no such file part. */
  file: T | undefined
}

export async function readMultipart<T>(
  request: FastifyRequest,
  fileField: string,
  onFile: (part: MultipartFile, fieldsSoFar: FormFields) => Promise<T>,
): Promise<MultipartResult<T>> {
  const fields: FormFields = {}
  let file: T | undefined
  let seen = false
  // The file handler's own errors (a refused header, a full disk) are not the form's fault.
  let fileFailure: { error: unknown } | undefined
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        const value = (part as MultipartValue).value
        if (!Object.hasOwn(fields, part.fieldname)) fields[part.fieldname] = String(value)
        continue
      }
      if (part.fieldname !== fileField || seen) {
        part.file.resume()
        continue
      }
      seen = true
      try {
        file = await onFile(part, { ...fields })
      } catch (error) {
        fileFailure = { error }
        break
      }
    }
  } catch (error) {
    throw multipartError(error)
  }
  if (fileFailure) throw fileFailure.error
  return { fields, file }
}

/** `@fastify/multipart` and busboy errors -> our codes; other errors pass unchanged. */
function multipartError(error: unknown): unknown {
  const code = (error as { code?: string }).code
  const message = (error as Error).message ?? ''
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new HttpError('UPLOAD_TOO_LARGE', 'the file is larger than the upload limit', {
        cause: error,
        headers: { connection: 'close' },
      })
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
    case 'FST_FILES_LIMIT':
      return new HttpError(
        'BAD_REQUEST',
        'too many parts in the form: send one file and the option fields only',
        { cause: error, headers: { connection: 'close' } },
      )
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new HttpError('UNSUPPORTED_MEDIA_TYPE', 'expected a multipart/form-data body', {
        cause: error,
      })
    case 'FST_PROTO_VIOLATION':
    case 'FST_INVALID_JSON_FIELD_ERROR':
    case 'FST_MP_PREMATURE_CLOSE':
      return new HttpError('MULTIPART_INVALID', message, { cause: error })
  }
  // Anything else busboy throws (no status of its own): the body is not valid multipart, or
  // it was cut short.
  if (
    (error as { statusCode?: number }).statusCode === undefined &&
    !(error instanceof HttpError)
  ) {
    return new HttpError('MULTIPART_INVALID', `malformed multipart body: ${message}`, {
      cause: error,
      headers: { connection: 'close' },
    })
  }
  return error
}
