/**
 * `POST /jobs`: a multipart form (field `file` plus option fields) or a raw CSV body (`text/csv`,
 * `application/gzip`, or any of them with `Content-Encoding: gzip`) with the options in the
 * query. The bytes stream into storage while the header is inspected; the answer is
 * `202 Accepted` with `Location` and the job view. The work is in upload/submit-upload.ts.
 */
import type { FastifyRequest } from 'fastify'
import type { Job } from '../../../jobs/job.js'
import { HttpError } from '../../errors/api-errors.js'
import { problems } from '../../schemas/common.js'
import { MultipartUploadSchema, RawUploadQuerySchema } from '../../schemas/job-options.js'
import { SubmittedJobSchema } from '../../schemas/job-view.js'
import { jobPath, outputFilePath, toJobView } from '../../services/job-view.js'
import { submitTusUpload, uploadJobBody } from '../../tus/submit-tus.js'
import type { TusUploads } from '../../tus/tus-uploads.js'
import type { HttpApp } from '../../types.js'
import { submitMultipart, submitRaw } from '../../upload/submit-upload.js'
import type { UploadService } from '../../upload/upload-service.js'

/** Raw bodies: any of these; the engine tells gzip from plain by the first bytes. */
export const RAW_CONTENT_TYPES = [
  'text/csv',
  'application/csv',
  'text/plain',
  'application/gzip',
  'application/x-gzip',
  'application/octet-stream',
]

export interface SubmitDeps {
  uploads: UploadService
  /** Finished tus uploads, for a JSON body `{"upload_id"}`. */
  tus?: TusUploads
}

export async function submitRoute(app: HttpApp, { uploads, tus }: SubmitDeps): Promise<void> {
  // Leaves the body unread: the handler streams it (Fastify's "piping the request stream").
  // This plugin's own context: text/plain stays parsed as text elsewhere.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser(RAW_CONTENT_TYPES, (_request, payload, done) => done(null, payload))

  app.post(
    '/jobs',
    {
      config: { swaggerTransform: documentUploadBody },
      schema: {
        tags: ['jobs'],
        summary: 'Upload a CSV and queue a job',
        description:
          'multipart/form-data with a `file` field and option fields, JSON `{"upload_id", "order", "on_error", "escape_formulas"}` naming a finished tus upload (see /uploads), or a raw CSV body (text/csv; gzip accepted) with the options in the query. Answers 202 at once; the header is checked first (422 when required columns are missing).',
        querystring: RawUploadQuerySchema,
        response: {
          202: SubmittedJobSchema,
          ...problems(400, 401, 404, 409, 413, 415, 422, 429, 503, 507),
        },
      },
    },
    async (request, reply) => {
      let job: Job
      if (request.isMultipart()) {
        job = await submitMultipart(request, reply, uploads, 'file', request.query)
      } else if (tus && isJson(request)) {
        const body = { ...uploadJobBody(request.body), ...jsonEscapeFormulas(request.body) }
        job = await submitTusUpload(request, uploads, tus, body)
      } else if (isRawUpload(request)) {
        job = await submitRaw(request, reply, uploads, request.query)
      } else {
        throw new HttpError(
          'UNSUPPORTED_MEDIA_TYPE',
          `send multipart/form-data with a "file" field, JSON {"upload_id": ...} naming a finished tus upload, or the CSV itself as ${RAW_CONTENT_TYPES.join(', ')}`,
        )
      }
      return reply.code(202).header('location', jobPath(job.id)).send(submittedView(job))
    },
  )
}

/**
 * `escape_formulas` of a JSON body, as the text option field: a JSON boolean or its text
 * (`"true"`, as `tally submit` sends it); anything else is the option's 400.
 */
function jsonEscapeFormulas(body: unknown): { escape_formulas?: string } {
  const value = (body as Record<string, unknown> | null)?.escape_formulas
  if (value === undefined) return {}
  if (typeof value === 'boolean') return { escape_formulas: String(value) }
  if (typeof value === 'string') return { escape_formulas: value }
  return { escape_formulas: JSON.stringify(value) }
}

function isJson(request: FastifyRequest): boolean {
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
  return type === 'application/json'
}

function isRawUpload(request: FastifyRequest): boolean {
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
  return type !== undefined && RAW_CONTENT_TYPES.includes(type)
}

export function submittedView(job: Job) {
  return { success: true as const, ...toJobView(job), output_file_path: outputFilePath(job.id) }
}

/** The OpenAPI request body of `POST /jobs` (the route reads it as a stream, unvalidated). */
function documentUploadBody({ schema, url }: { schema: object; url: string }) {
  const binary = { type: 'string', format: 'binary' }
  return {
    url,
    schema: {
      ...schema,
      body: {
        content: {
          'multipart/form-data': { schema: MultipartUploadSchema },
          'text/csv': { schema: binary },
          'application/gzip': { schema: binary },
        },
      },
    },
  }
}
