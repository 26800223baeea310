/**
 * Upload requests -> queued jobs: a raw body (`submitRaw`) or a multipart form
 * (`submitMultipart`), for the primary route and the earlier clients' routes alike.
 *
 * Multipart option fields may come before or after the file. Fields before it are checked
 * before the first byte is stored, and the header is inspected against their columns; fields
 * after it are checked once the file is stored (the header again, against their columns).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { createJobId, type Job } from '../../jobs/job.js'
import { HttpError } from '../errors/api-errors.js'
import { clientGone, contentLength } from '../services/client-gone.js'
import { readMultipart } from './multipart.js'
import {
  type OptionFields,
  parseOptions,
  type StoredUpload,
  specOf,
  type UploadService,
} from './upload-service.js'

export const DEFAULT_FILE_NAME = 'upload.csv'

export async function submitRaw(
  request: FastifyRequest,
  reply: FastifyReply,
  uploads: UploadService,
  query: OptionFields & { file_name?: string },
): Promise<Job> {
  const options = parseOptions(query)
  await uploads.precheck(contentLength(request.headers))
  const stored = await uploads.store(request.raw, {
    jobId: createJobId(),
    spec: specOf(options),
    signal: clientGone(reply),
  })
  return uploads.submit(stored, {
    fileName: cleanFileName(query.file_name) ?? DEFAULT_FILE_NAME,
    options,
    owner: request.owner,
  })
}

/**
 * A multipart upload whose file is in `fileField`, with option fields: the primary route's and
 * the earlier clients' (which send the file alone, so the defaults apply).
 */
export async function submitMultipart(
  request: FastifyRequest,
  reply: FastifyReply,
  uploads: UploadService,
  fileField: string,
  /** Options given elsewhere (the query); form fields take precedence. */
  defaults: OptionFields = {},
): Promise<Job> {
  await uploads.precheck(contentLength(request.headers))
  const signal = clientGone(reply)
  let stored: (StoredUpload & { fileName: string }) | undefined
  try {
    const { fields, file } = await readMultipart(request, fileField, async (part, before) => {
      const spec = specOf(parseOptions({ ...defaults, ...before }))
      const upload = await uploads.store(part.file, { jobId: createJobId(), spec, signal })
      stored = { ...upload, fileName: cleanFileName(part.filename) ?? DEFAULT_FILE_NAME }
      return stored
    })
    if (!file) {
      throw new HttpError('FILE_MISSING', `the form has no file field named "${fileField}"`)
    }
    return await uploads.submit(file, {
      fileName: file.fileName,
      options: parseOptions({ ...defaults, ...fields }),
      owner: request.owner,
    })
  } catch (error) {
    // `submit` cleans up after itself; a failure after storing and before submitting must too.
    if (stored) await uploads.discard(stored.key)
    throw error
  }
}

/**
 * The client's name for its file, without any path; undefined when there is none. Control
 * characters go first, so a line break cannot hide a path from the `^.*` that strips it.
 */
export function cleanFileName(name: string | undefined): string | undefined {
  const base = name
    ?.replace(/\p{Cc}/gu, '')
    .replace(/^.*[\\/]/, '')
    .trim()
  return base ? base.slice(0, 255) : undefined
}
