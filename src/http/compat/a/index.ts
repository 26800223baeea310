/**
 * Set A (the first FastAPI version): `GET /` and `POST /jobs` are the primary routes; here
 * `GET /job_statuses/{job_id}` -> `{"job_id", "status"}` and `GET /results/{file_name}`, where
 * `file_name` is the last part of the `output_file_path` that `POST /jobs` returned.
 */
import type { JobStatus } from '../../../jobs/job.js'
import { sendJobFile } from '../../download/send-job-file.js'
import { HttpError } from '../../errors/api-errors.js'
import { JobIdParamsSchema, problems, textResponse } from '../../schemas/common.js'
import { FileNameParamsSchema, StatusASchema } from '../../schemas/compat.js'
import { findJob } from '../../services/job-access.js'
import type { HttpApp } from '../../types.js'
import type { CompatDeps } from '../deps.js'

export type StatusA = 'pending' | 'processing' | 'completed' | 'failed'

export function statusA(status: JobStatus): StatusA {
  switch (status) {
    case 'queued':
      return 'pending'
    case 'running':
      return 'processing'
    case 'succeeded':
      return 'completed'
    case 'failed':
    case 'canceled':
      return 'failed'
  }
}

const RESULT_FILE = /^(job_[a-z2-7]{24})\.csv$/

export async function compatA(app: HttpApp, { jobs, storage }: CompatDeps): Promise<void> {
  app.get(
    '/job_statuses/:job_id',
    {
      schema: {
        tags: ['compat'],
        summary: '(set A) Job status: pending, processing, completed or failed',
        params: JobIdParamsSchema,
        response: { 200: StatusASchema, ...problems(401, 404, 429) },
      },
    },
    async (request) => {
      const job = await findJob(jobs, request.params.job_id, request.owner)
      return { job_id: job.id, status: statusA(job.status) }
    },
  )

  app.get(
    '/results/:file_name',
    {
      schema: {
        tags: ['compat'],
        summary: '(set A) Download a result by the file name in output_file_path',
        params: FileNameParamsSchema,
        response: {
          200: textResponse('The CSV file', 'text/csv'),
          ...problems(401, 404, 409, 410, 416, 429),
        },
      },
    },
    async (request, reply) => {
      const { file_name: fileName } = request.params
      const id = RESULT_FILE.exec(fileName)?.[1]
      if (!id) throw new HttpError('JOB_NOT_FOUND', `no result file ${JSON.stringify(fileName)}`)
      const job = await findJob(jobs, id, request.owner)
      return sendJobFile(request, reply, storage, job, 'result')
    },
  )
}
