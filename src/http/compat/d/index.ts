/**
 * Set D (an Express + queue version): `POST /jobs/count/` (multipart `file`) ->
 * `{"jobId", "message": "file is being proccessed..."}` (sic); `GET /jobs/{job_id}/result/`
 * (with the trailing slash: a different route from the primary `/jobs/{job_id}/result`) -> the
 * CSV as an attachment when finished, else plain text `Job: queued`, `Job: started`,
 * `Job: failed`, or `Job not found.` (404).
 */
import type { JobStatus } from '../../../jobs/job.js'
import { sendJobFile } from '../../download/send-job-file.js'
import { isHttpError } from '../../errors/api-errors.js'
import { JobIdParamsSchema, problems, textResponse } from '../../schemas/common.js'
import { CountJobDSchema } from '../../schemas/compat.js'
import { findJob } from '../../services/job-access.js'
import type { HttpApp } from '../../types.js'
import { submitMultipart } from '../../upload/submit-upload.js'
import type { CompatDeps } from '../deps.js'

export type StateD = 'queued' | 'started' | 'finished' | 'failed'

export function stateD(status: JobStatus): StateD {
  switch (status) {
    case 'queued':
      return 'queued'
    case 'running':
      return 'started'
    case 'succeeded':
      return 'finished'
    case 'failed':
    case 'canceled':
      return 'failed'
  }
}

const TEXT = 'text/plain; charset=utf-8'

export async function compatD(app: HttpApp, { jobs, storage, uploads }: CompatDeps): Promise<void> {
  app.post(
    '/jobs/count/',
    {
      schema: {
        tags: ['compat'],
        summary: '(set D) Upload a CSV (multipart field "file") and queue a job',
        consumes: ['multipart/form-data'],
        response: { 202: CountJobDSchema, ...problems(400, 401, 413, 415, 422, 429, 503, 507) },
      },
    },
    async (request, reply) => {
      const job = await submitMultipart(request, reply, uploads, 'file')
      return reply
        .code(202)
        .send({ jobId: job.id, message: 'file is being proccessed...' as const })
    },
  )

  app.get(
    '/jobs/:job_id/result/',
    {
      schema: {
        tags: ['compat'],
        summary: '(set D) The CSV when finished, else "Job: queued|started|failed" as text',
        params: JobIdParamsSchema,
        response: {
          200: textResponse('The CSV file, or the job state as text', 'text/csv', 'text/plain'),
          404: textResponse('Job not found.', 'text/plain'),
          ...problems(401, 410, 429),
        },
      },
    },
    async (request, reply) => {
      let job: Awaited<ReturnType<typeof findJob>>
      try {
        job = await findJob(jobs, request.params.job_id, request.owner)
      } catch (error) {
        if (isHttpError(error) && error.code === 'JOB_NOT_FOUND') {
          return reply.code(404).type(TEXT).send('Job not found.')
        }
        throw error
      }
      const state = stateD(job.status)
      if (state === 'finished') return sendJobFile(request, reply, storage, job, 'result')
      return reply.type(TEXT).send(`Job: ${state}`)
    },
  )
}
