/**
 * `DELETE /jobs/{job_id}`: cancels a queued or running job (200 with the job view, status
 * `canceled`); deletes a finished job, its files and its record (204).
 */
import { Type } from '@fastify/type-provider-typebox'
import type { JobBackend } from '../../../jobs/backend.js'
import { isFinished } from '../../../jobs/job.js'
import { isJobError } from '../../../jobs/job-error.js'
import { JobIdParamsSchema, problems } from '../../schemas/common.js'
import { JobViewSchema } from '../../schemas/job-view.js'
import { findJob } from '../../services/job-access.js'
import { toJobView } from '../../services/job-view.js'
import type { HttpApp } from '../../types.js'

export interface DeleteDeps {
  jobs: JobBackend
}

export async function deleteRoute(app: HttpApp, { jobs }: DeleteDeps): Promise<void> {
  app.delete(
    '/jobs/:job_id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued or running job, or delete a finished one',
        params: JobIdParamsSchema,
        response: {
          200: JobViewSchema,
          204: Type.Null({ description: 'Deleted' }),
          ...problems(401, 404, 429),
        },
      },
    },
    async (request, reply) => {
      const job = await findJob(jobs, request.params.job_id, request.owner)
      if (!isFinished(job.status)) {
        try {
          return toJobView(await jobs.cancel(job.id))
        } catch (error) {
          // It finished between the lookup and the cancel: delete it like any finished job.
          if (!isJobError(error, 'JOB_ALREADY_FINISHED')) throw error
        }
      }
      await jobs.delete(job.id)
      return reply.code(204).send(null)
    },
  )
}
