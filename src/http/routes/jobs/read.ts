/** `GET /jobs` (newest first, status filter, cursor pagination) and `GET /jobs/{job_id}`. */
import type { JobBackend } from '../../../jobs/backend.js'
import { JobIdParamsSchema, problems } from '../../schemas/common.js'
import { JobListQuerySchema, JobListSchema, JobViewSchema } from '../../schemas/job-view.js'
import { findJob } from '../../services/job-access.js'
import { toJobView } from '../../services/job-view.js'
import type { HttpApp } from '../../types.js'

export interface ReadDeps {
  jobs: JobBackend
}

export async function readRoutes(app: HttpApp, { jobs }: ReadDeps): Promise<void> {
  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'List jobs, newest first',
        querystring: JobListQuerySchema,
        response: { 200: JobListSchema, ...problems(400, 401, 429) },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query
      const page = await jobs.list({
        owner: request.owner ?? undefined,
        status,
        limit,
        cursor,
      })
      return { jobs: page.jobs.map(toJobView), next_cursor: page.nextCursor }
    },
  )

  app.get(
    '/jobs/:job_id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'A job: status, progress, result summary, error',
        params: JobIdParamsSchema,
        response: { 200: JobViewSchema, ...problems(401, 404, 429) },
      },
    },
    async (request) => toJobView(await findJob(jobs, request.params.job_id, request.owner)),
  )
}
