/**
 * Set E (a FastAPI + Celery version): `POST /api/process_csv` (multipart `input_file`) ->
 * `{"task_id"}`; `GET /api/download_csv/{task_id}` -> the CSV when done, else
 * `{"status": "processing"}` or `{"status": "failed", "message"}`.
 */
import { Type } from '@fastify/type-provider-typebox'
import type { JobStatus } from '../../../jobs/job.js'
import { sendJobFile } from '../../download/send-job-file.js'
import { problems } from '../../schemas/common.js'
import { StatusESchema, TaskIdParamsSchema, TaskIdSchema } from '../../schemas/compat.js'
import { findJob } from '../../services/job-access.js'
import type { HttpApp } from '../../types.js'
import { submitMultipart } from '../../upload/submit-upload.js'
import type { CompatDeps } from '../deps.js'

export type StatusE = 'processing' | 'done' | 'failed'

export function statusE(status: JobStatus): StatusE {
  switch (status) {
    case 'queued':
    case 'running':
      return 'processing'
    case 'succeeded':
      return 'done'
    case 'failed':
    case 'canceled':
      return 'failed'
  }
}

export async function compatE(app: HttpApp, { jobs, storage, uploads }: CompatDeps): Promise<void> {
  app.post(
    '/api/process_csv',
    {
      schema: {
        tags: ['compat'],
        summary: '(set E) Upload a CSV (multipart field "input_file") and queue a job',
        consumes: ['multipart/form-data'],
        response: { 202: TaskIdSchema, ...problems(400, 401, 413, 415, 422, 429, 503, 507) },
      },
    },
    async (request, reply) => {
      const job = await submitMultipart(request, reply, uploads, 'input_file')
      return reply.code(202).send({ task_id: job.id })
    },
  )

  app.get(
    '/api/download_csv/:task_id',
    {
      schema: {
        tags: ['compat'],
        summary: '(set E) The CSV when done, else {"status": "processing" | "failed"}',
        params: TaskIdParamsSchema,
        response: {
          200: {
            description: 'The CSV file once done, else the status as JSON',
            content: {
              'text/csv': { schema: Type.String() },
              'application/json': { schema: StatusESchema },
            },
          },
          ...problems(401, 404, 410, 429),
        },
      },
    },
    async (request, reply) => {
      const job = await findJob(jobs, request.params.task_id, request.owner)
      const status = statusE(job.status)
      if (status === 'done') return sendJobFile(request, reply, storage, job, 'result')
      if (status === 'processing') return { status }
      const message =
        job.status === 'canceled'
          ? 'the task was canceled'
          : (job.error?.message ?? 'the task failed')
      return { status, message }
    },
  )
}
