/**
 * `POST /jobs` with JSON `{"upload_id", "order", "on_error", ...}`: a finished tus upload
 * becomes a job. The file is copied through the upload gate into the job's storage key (so the
 * header is inspected as for any upload: 422 when columns are missing), then the tus upload is
 * removed: an upload starts one job. With S3 storage the copy streams from the tus store's
 * object to the job's (a server-side CopyObject would skip the header check and is limited to
 * 5 GiB per request).
 */
import type { FastifyRequest } from 'fastify'
import { createJobId, type Job } from '../../jobs/job.js'
import { HttpError } from '../errors/api-errors.js'
import { cleanFileName, DEFAULT_FILE_NAME } from '../upload/submit-upload.js'
import {
  type OptionFields,
  parseOptions,
  specOf,
  type UploadService,
} from '../upload/upload-service.js'
import type { TusUploads } from './tus-uploads.js'

export interface UploadJobBody extends OptionFields {
  upload_id: string
}

export async function submitTusUpload(
  request: FastifyRequest,
  uploads: UploadService,
  tus: TusUploads,
  body: UploadJobBody,
): Promise<Job> {
  const options = parseOptions(body)
  const found = await tus.find(body.upload_id, request.owner)
  if (found.state === 'missing') {
    throw new HttpError('UPLOAD_NOT_FOUND', `no upload ${JSON.stringify(body.upload_id)}`)
  }
  if (found.state === 'unfinished') {
    const { offset, size } = found.upload
    throw new HttpError(
      'UPLOAD_NOT_FINISHED',
      `upload ${body.upload_id} has ${offset} of ${size ?? 'an unknown number of'} bytes; finish it first`,
    )
  }
  await uploads.precheck(found.upload.size)
  // Streamed from the tus store (a file, or the S3 object) through the upload gate into the
  // job's input key: the header is inspected on the way, nothing is staged on this disk.
  const stored = await uploads.store(await tus.read(body.upload_id), {
    jobId: createJobId(),
    spec: specOf(options),
  })
  const job = await uploads.submit(stored, {
    fileName: cleanFileName(found.fileName) ?? DEFAULT_FILE_NAME,
    options,
    owner: request.owner,
  })
  await tus.remove(body.upload_id)
  return job
}

/** A JSON body naming an upload; anything else is a 400 saying what is expected. */
export function uploadJobBody(body: unknown): UploadJobBody {
  const value = body as Record<string, unknown> | null
  if (typeof value !== 'object' || value === null || typeof value.upload_id !== 'string') {
    throw new HttpError(
      'VALIDATION_FAILED',
      'the JSON body needs "upload_id": the id of a finished tus upload',
    )
  }
  const fields: UploadJobBody = { upload_id: value.upload_id }
  for (const name of ['order', 'on_error', 'group_by', 'sum'] as const) {
    const field = value[name]
    if (field === undefined) continue
    if (typeof field !== 'string') {
      throw new HttpError('VALIDATION_FAILED', `"${name}" must be a string`)
    }
    fields[name] = field
  }
  return fields
}
