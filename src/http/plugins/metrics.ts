/**
 * Prometheus metrics at `GET /metrics` (prom-client, on the registry the composition root
 * passes in): jobs by status (read from the backend at scrape time, so it is right whatever
 * process ran them), rows and bytes processed and job durations (counted from the job events
 * this process sees), and HTTP latency per route.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { ALL_JOBS, type JobBackend } from '../../jobs/backend.js'
import { isFinished, JOB_STATUSES } from '../../jobs/job.js'
import { textResponse } from '../schemas/common.js'
import type { HttpApp } from '../types.js'
import { globalPlugin } from './global-plugin.js'

export interface MetricsOptions {
  registry: Registry
  jobs: JobBackend
}

export const metricsPlugin = globalPlugin(
  'tally-metrics',
  async (app: HttpApp, { registry, jobs }: MetricsOptions) => {
    new Gauge({
      name: 'tally_jobs',
      help: 'Jobs in the job store, by status',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        const counts = await jobs.counts()
        for (const status of JOB_STATUSES) this.set({ status }, counts[status])
      },
    })
    const rows = new Counter({
      name: 'tally_rows_processed_total',
      help: 'Data rows read by jobs that finished in this process',
      registers: [registry],
    })
    const rejected = new Counter({
      name: 'tally_rows_rejected_total',
      help: 'Data rows rejected by jobs that finished in this process',
      registers: [registry],
    })
    const bytes = new Counter({
      name: 'tally_bytes_processed_total',
      help: 'Input bytes of jobs that succeeded in this process',
      registers: [registry],
    })
    const duration = new Histogram({
      name: 'tally_job_duration_seconds',
      help: 'Time from start to end of a job run, by final status',
      labelNames: ['status'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    })
    const latency = new Histogram({
      name: 'tally_http_request_duration_seconds',
      help: 'HTTP request latency, by method, route and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    })

    const unsubscribe = jobs.subscribe(ALL_JOBS, ({ type, job }) => {
      if (type !== 'status' || !isFinished(job.status)) return
      if (job.result) {
        rows.inc(job.result.rowsRead)
        rejected.inc(job.result.rowsRejected)
        bytes.inc(job.input.bytes)
      }
      if (job.startedAt && job.finishedAt) {
        const seconds = (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000
        duration.observe({ status: job.status }, Math.max(0, seconds))
      }
    })
    app.addHook('onClose', async () => unsubscribe())

    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, not the URL: one series per route, whatever the ids.
      const route = request.routeOptions.url ?? 'unmatched'
      latency.observe(
        { method: request.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      )
    })

    app.get(
      '/metrics',
      {
        config: { public: true },
        schema: {
          tags: ['service'],
          summary: 'Prometheus metrics',
          response: { 200: textResponse('Prometheus text format', 'text/plain') },
        },
      },
      async (_request, reply) => {
        reply.type(registry.contentType)
        return registry.metrics()
      },
    )
  },
)
