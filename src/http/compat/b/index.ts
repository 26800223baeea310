/**
 * Set B (Flask + Celery): `POST /process_csv` (multipart `file`) -> `{"task_id"}`;
 * `GET /result/{task_id}` -> the CSV once done, else `{"state", "message"}` with Celery's state
 * words.
 */
import { Type } from '@fastify/type-provider-typebox'
import type { Job } from '../../../jobs/job.js'
import { sendJobFile } from '../../download/send-job-file.js'
import { HttpError, isHttpError } from '../../errors/api-errors.js'
import { problems } from '../../schemas/common.js'
import { StateBSchema, TaskIdParamsSchema, TaskIdSchema } from '../../schemas/compat.js'
import { findJob } from '../../services/job-access.js'
import type { HttpApp } from '../../types.js'
import { submitMultipart } from '../../upload/submit-upload.js'
import type { CompatDeps } from '../deps.js'

export type StateB = 'PENDING' | 'STARTED' | 'SUCCESS' | 'FAILURE'

export function stateB(status: Job['status']): StateB {
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

export async function compatB(app: HttpApp, { jobs, storage, uploads }: CompatDeps): Promise<void> {
  app.post(
    '/process_csv',
    {
      schema: {
        tags: ['compat'],
        summary: '(set B) Upload a CSV (multipart field "file") and queue a job',
        consumes: ['multipart/form-data'],
        response: { 202: TaskIdSchema, ...problems(400, 401, 413, 415, 422, 429, 503, 507) },
      },
    },
    async (request, reply) => {
      const job = await submitMultipart(request, reply, uploads, 'file')
      return reply.code(202).send({ task_id: job.id })
    },
  )

  app.get(
    '/result/:task_id',
    {
      schema: {
        tags: ['compat'],
        summary: '(set B) The CSV once done, else the task state',
        params: TaskIdParamsSchema,
        response: {
          200: {
            description: 'The CSV file once done, else the state as JSON',
            content: {
              'text/csv': { schema: Type.String() },
              'application/json': { schema: StateBSchema },
            },
          },
          ...problems(401, 404, 410, 429),
        },
      },
    },
    async (request, reply) => {
      const job = await withStateOnError(() => findJob(jobs, request.params.task_id, request.owner))
      const state = stateB(job.status)
      if (state === 'SUCCESS') return sendJobFile(request, reply, storage, job, 'result')
      return { state, message: messageB(job) }
    },
  )
}

function messageB(job: Job): string {
  if (job.status === 'queued') return 'the task is waiting to run'
  if (job.status === 'running') {
    const percent = job.progress?.percent
    return percent === null || percent === undefined
      ? 'the task is running'
      : `the task is running (${percent}%)`
  }
  if (job.status === 'canceled') return 'the task was canceled'
  return job.error?.message ?? 'the task failed'
}

/** An unknown task still answers with the fields set B clients read (`state`, `message`). */
async function withStateOnError<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (isHttpError(error)) {
      throw new HttpError(error.code, error.message, {
        cause: error,
        headers: { ...error.headers },
        extra: { ...error.extra, state: 'FAILURE', message: error.message },
      })
    }
    throw error
  }
}
