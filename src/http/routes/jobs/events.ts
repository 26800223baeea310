/**
 * `GET /jobs/{job_id}/events`: Server-Sent Events. A `progress` event with the job view now and
 * on every change (status changes before the end, such as queued -> running, are progress
 * too), then one `status` event with the final job view, then the stream ends. A finished job
 * answers with its `status` event at once. Comment lines keep idle connections open.
 *
 * The subscription is taken before the job is read, so no change between the two is missed.
 * Open streams end when the server closes, so a shutdown does not wait on them.
 */
import { PassThrough, type Readable } from 'node:stream'
import { Type } from '@fastify/type-provider-typebox'
import type { JobBackend, JobEvent } from '../../../jobs/backend.js'
import { isFinished, type Job } from '../../../jobs/job.js'
import { JobIdParamsSchema, problems } from '../../schemas/common.js'
import { findJob } from '../../services/job-access.js'
import { toJobView } from '../../services/job-view.js'
import type { HttpApp } from '../../types.js'

export interface EventsDeps {
  jobs: JobBackend
  heartbeatMs: number
}

export async function eventsRoute(app: HttpApp, { jobs, heartbeatMs }: EventsDeps): Promise<void> {
  const open = new Set<PassThrough>()
  app.addHook('preClose', async () => {
    for (const stream of open) stream.end()
  })

  app.get(
    '/jobs/:job_id/events',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Server-Sent Events: progress events, then one final status event',
        params: JobIdParamsSchema,
        response: {
          200: {
            description: 'event: progress | status; data: the job view (JSON)',
            // A stream, sent as is: typed so, documented as text.
            content: { 'text/event-stream': { schema: Type.Unsafe<Readable>({ type: 'string' }) } },
          },
          ...problems(401, 404, 429),
        },
      },
    },
    async (request, reply) => {
      const id = request.params.job_id
      const stream = new PassThrough()
      const pending: JobEvent[] = []
      let ready = false
      const unsubscribe = jobs.subscribe(id, (event) => {
        if (ready) write(event.job)
        else pending.push(event)
      })
      let job: Job
      try {
        job = await findJob(jobs, id, request.owner)
      } catch (error) {
        unsubscribe()
        throw error
      }

      let lastSent = ''
      const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), heartbeatMs)
      heartbeat.unref()
      const finish = () => {
        clearInterval(heartbeat)
        unsubscribe()
        open.delete(stream)
      }
      stream.once('close', finish)
      stream.once('finish', finish)
      open.add(stream)

      function write(current: Job): void {
        if (stream.writableEnded) return
        const final = isFinished(current.status)
        const data = JSON.stringify(toJobView(current))
        if (!final && data === lastSent) return
        lastSent = data
        stream.write(`event: ${final ? 'status' : 'progress'}\ndata: ${data}\n\n`)
        if (final) stream.end()
      }

      write(job)
      ready = true
      // Events that arrived while the job was read may hold an older state than the read.
      for (const event of pending) if (isNewer(event.job, job)) write(event.job)

      return reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('x-accel-buffering', 'no')
        .send(stream)
    },
  )
}

const RANK = { queued: 0, running: 1, succeeded: 2, failed: 2, canceled: 2 } as const

function isNewer(candidate: Job, than: Job): boolean {
  const a = RANK[candidate.status]
  const b = RANK[than.status]
  if (a !== b) return a > b
  return (candidate.progress?.bytesDone ?? 0) > (than.progress?.bytesDone ?? 0)
}
