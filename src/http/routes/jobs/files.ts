/**
 * `GET /jobs/{job_id}/result` and `/rejects`: the CSV as an attachment named after the upload,
 * with Range and gzip (see download/send-job-file.ts). 409 with the job view while the job is
 * not finished, 404 unknown, 410 once the files expired.
 */
import type { JobBackend } from '../../../jobs/backend.js'
import type { Storage } from '../../../storage/storage.js'
import { sendJobFile } from '../../download/send-job-file.js'
import { JobIdParamsSchema, problems, textResponse } from '../../schemas/common.js'
import { findJob, type JobFileKind } from '../../services/job-access.js'
import type { HttpApp } from '../../types.js'

export interface FilesDeps {
  jobs: JobBackend
  storage: Storage
}

const SUMMARIES: Record<JobFileKind, string> = {
  result: 'Download the totals CSV (Range and gzip supported)',
  rejects: 'Download the rejected rows CSV (Line,Code,Column,Reason,Raw Row)',
}

export async function fileRoutes(app: HttpApp, { jobs, storage }: FilesDeps): Promise<void> {
  for (const kind of ['result', 'rejects'] as const) {
    app.get(
      `/jobs/:job_id/${kind}`,
      {
        schema: {
          tags: ['jobs'],
          summary: SUMMARIES[kind],
          params: JobIdParamsSchema,
          response: {
            200: textResponse('The CSV file (gzip when accepted)', 'text/csv'),
            206: textResponse('The requested byte range', 'text/csv'),
            ...problems(401, 404, 409, 410, 416, 429),
          },
        },
      },
      async (request, reply) => {
        const job = await findJob(jobs, request.params.job_id, request.owner)
        return sendJobFile(request, reply, storage, job, kind)
      },
    )
  }
}
