/** The job view: how the primary API shows a job (`GET /jobs/{job_id}` and friends). */
import { type Static, Type } from '@fastify/type-provider-typebox'
import { ON_ERRORS, ORDERS } from '../../engine/index.js'
import { JOB_STATUSES } from '../../jobs/job.js'
import { Nullable } from './common.js'

export const JobStatusSchema = Type.Enum([...JOB_STATUSES], {
  description: 'queued | running | succeeded | failed | canceled',
})

export const JobOptionsViewSchema = Type.Object({
  order: Type.Enum([...ORDERS]),
  on_error: Type.Enum([...ON_ERRORS]),
  group_by: Type.Array(Type.String()),
  sum: Type.String(),
  escape_formulas: Type.Boolean({ description: 'Formulas in text values are written as text' }),
})

export const JobProgressSchema = Type.Object({
  bytes_done: Type.Integer({ description: 'Input bytes processed' }),
  bytes_total: Nullable(Type.Integer()),
  rows: Type.Integer(),
  rejected: Type.Integer(),
  percent: Nullable(Type.Number({ description: '0 to 100' })),
  eta_seconds: Nullable(Type.Integer({ description: 'Estimated seconds left' })),
  phase: Type.String({ description: 'queued, receiving, reading, merging, writing, done' }),
})

export const JobResultSchema = Type.Object({
  rows_read: Type.Integer(),
  rows_rejected: Type.Integer(),
  groups: Type.Integer(),
  output_bytes: Type.Integer(),
  rejects_bytes: Type.Integer(),
  duration_ms: Type.Integer(),
})

export const JobErrorSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  line: Nullable(Type.Integer()),
  column: Nullable(Type.String()),
})

export const JobLinksSchema = Type.Object({
  self: Type.String(),
  events: Type.String(),
  result: Nullable(Type.String({ description: 'Present once the job succeeded' })),
  rejects: Nullable(Type.String({ description: 'Present once the job succeeded' })),
})

export const jobViewProperties = {
  job_id: Type.String(),
  status: JobStatusSchema,
  created_at: Type.String({ format: 'date-time' }),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
  expired_at: Nullable(
    Type.String({ format: 'date-time', description: 'When the files were deleted (410)' }),
  ),
  file_name: Type.String(),
  file_bytes: Type.Integer(),
  options: JobOptionsViewSchema,
  progress: JobProgressSchema,
  result: Nullable(JobResultSchema),
  error: Nullable(JobErrorSchema),
  links: JobLinksSchema,
}

export const JobViewSchema = Type.Object(jobViewProperties, { description: 'A job' })
export type JobView = Static<typeof JobViewSchema>

/** `POST /jobs` answer: the job view plus the fields earlier clients read. */
export const SubmittedJobSchema = Type.Object({
  success: Type.Literal(true),
  ...jobViewProperties,
  output_file_path: Type.String({
    description: 'Where the result will be: its last part works with GET /results/{file_name}',
  }),
})
export type SubmittedJob = Static<typeof SubmittedJobSchema>

export const JobListSchema = Type.Object({
  jobs: Type.Array(JobViewSchema),
  next_cursor: Nullable(Type.String({ description: 'Pass as `cursor` for the next page' })),
})

export const JobListQuerySchema = Type.Object({
  status: Type.Optional(
    Type.Array(JobStatusSchema, { description: 'Only jobs in these statuses' }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
})
