/** `tally status JOB_ID`: the job as the server sees it, one line per fact. */
import type { Command } from 'commander'
import { Remote, type RemoteOptions, runRemote } from './remote.js'

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show a job of a tally server')
    .argument('<job_id>', 'the job id that `tally submit --no-wait` printed')
    .option('--server <url>', 'the server (default: $TALLY_SERVER or http://127.0.0.1:8000)')
    .option('--api-key <key>', 'API key (default: $TALLY_API_KEY)')
    .option('--json', 'print the job view as JSON')
    .action((id: string, options: RemoteOptions & { json?: boolean }) =>
      runRemote(async () => {
        const view = await new Remote(options).job(id)
        if (options.json) {
          process.stdout.write(`${JSON.stringify(view, null, 2)}\n`)
          return
        }
        const lines = [`job ${view.job_id}: ${view.status}`, `file: ${view.file_name}`]
        if (view.progress?.percent !== null && view.progress) {
          lines.push(`progress: ${view.progress.percent?.toFixed(0)}%, ${view.progress.rows} rows`)
        }
        if (view.result) {
          const r = view.result
          lines.push(`rows: ${r.rows_read} read, ${r.rows_rejected} rejected; ${r.groups} totals`)
        }
        if (view.error) lines.push(`error: ${view.error.code}: ${view.error.message}`)
        process.stdout.write(`${lines.join('\n')}\n`)
        if (view.status === 'failed' || view.status === 'canceled') process.exitCode = 1
      }),
    )
}
