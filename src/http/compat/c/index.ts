/**
 * Set C (Flask + Dropzone + Celery): `POST /api/upload_file` takes Dropzone chunks (or a whole
 * file when the form has no `dzuuid`: Dropzone with chunking off); `GET /api/file_status/{id}`
 * -> `{"job_status", "jod_id", "job_id"}` (`jod_id` is the earlier version's misspelling, which
 * its clients read); `GET /api/download_file/{id}` -> the CSV, or a 4xx JSON error.
 *
 * Dropzone sends its `dz*` fields before the file; a file before any `dzuuid` field is taken as
 * a whole-file upload.
 */
import type { JobStatus } from '../../../jobs/job.js'
import { createJobId } from '../../../jobs/job.js'
import { sendJobFile } from '../../download/send-job-file.js'
import { HttpError } from '../../errors/api-errors.js'
import { JobIdParamsSchema, problems, textResponse } from '../../schemas/common.js'
import { ChunkAnswerSchema, DropzoneFieldsDoc, FileStatusCSchema } from '../../schemas/compat.js'
import { clientGone, contentLength } from '../../services/client-gone.js'
import { findJob } from '../../services/job-access.js'
import type { HttpApp } from '../../types.js'
import { readMultipart } from '../../upload/multipart.js'
import { cleanFileName, DEFAULT_FILE_NAME } from '../../upload/submit-upload.js'
import { parseOptions, specOf } from '../../upload/upload-service.js'
import type { CompatDeps } from '../deps.js'
import { type ChunkOutcome, DropzoneStaging, parseChunkFields } from './dropzone-staging.js'

export type StatusC = 'PENDING' | 'STARTED' | 'SUCCESS' | 'FAILURE'

export function statusC(status: JobStatus): StatusC {
  switch (status) {
    case 'queued':
      return 'PENDING'
    case 'running':
      return 'STARTED'
    case 'succeeded':
      return 'SUCCESS'
    case 'failed':
    case 'canceled':
      return 'FAILURE'
  }
}

const CHUNK_STORED = 'Chunk file uploaded successfully'
const FILE_STORED = 'File uploaded successfully'

export async function compatC(app: HttpApp, { jobs, storage, uploads }: CompatDeps): Promise<void> {
  const staging = new DropzoneStaging(storage, uploads)

  app.post(
    '/api/upload_file',
    {
      config: {
        swaggerTransform: ({ schema, url }) => ({
          url,
          schema: {
            ...schema,
            body: { content: { 'multipart/form-data': { schema: DropzoneFieldsDoc } } },
          },
        }),
      },
      schema: {
        tags: ['compat'],
        summary: '(set C) Upload a Dropzone chunk; the last one queues the job',
        response: { 200: ChunkAnswerSchema, ...problems(400, 401, 413, 415, 422, 429, 503, 507) },
      },
    },
    async (request, reply) => {
      await uploads.precheck(contentLength(request.headers))
      const signal = clientGone(reply)
      const { file } = await readMultipart(
        request,
        'file',
        async (part, fields): Promise<ChunkOutcome> => {
          const fileName = cleanFileName(part.filename) ?? DEFAULT_FILE_NAME
          if (fields.dzuuid === undefined) {
            // No chunking: the whole file in one request.
            const options = parseOptions({})
            const stored = await uploads.store(part.file, {
              jobId: createJobId(),
              spec: specOf(options),
              signal,
            })
            const job = await uploads.submit(stored, { fileName, options, owner: request.owner })
            return { complete: true, jobId: job.id }
          }
          const chunk = parseChunkFields(fields, fileName)
          chunk.fileName = cleanFileName(chunk.fileName) ?? fileName
          return staging.receive(part.file, chunk, request.owner, signal)
        },
      )
      if (!file) throw new HttpError('FILE_MISSING', 'the form has no file field named "file"')
      if (!file.complete) return { message: CHUNK_STORED }
      return { message: FILE_STORED, job_id: file.jobId }
    },
  )

  app.get(
    '/api/file_status/:job_id',
    {
      schema: {
        tags: ['compat'],
        summary: '(set C) Job status: PENDING, STARTED, SUCCESS or FAILURE',
        params: JobIdParamsSchema,
        response: { 200: FileStatusCSchema, ...problems(401, 404, 429) },
      },
    },
    async (request) => {
      const job = await findJob(jobs, request.params.job_id, request.owner)
      return { job_status: statusC(job.status), jod_id: job.id, job_id: job.id }
    },
  )

  app.get(
    '/api/download_file/:job_id',
    {
      schema: {
        tags: ['compat'],
        summary: '(set C) Download the CSV once the job succeeded',
        params: JobIdParamsSchema,
        response: {
          200: textResponse('The CSV file', 'text/csv'),
          ...problems(401, 404, 409, 410, 429),
        },
      },
    },
    async (request, reply) => {
      const job = await findJob(jobs, request.params.job_id, request.owner)
      return sendJobFile(request, reply, storage, job, 'result')
    },
  )
}
