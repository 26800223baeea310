/** `tally download JOB_ID [-o FILE]`: a finished job's totals. */
import type { Command } from 'commander'
import { Remote, type RemoteOptions, runRemote } from './remote.js'

export function registerDownload(program: Command): void {
  program
    .command('download')
    .description("download a finished job's totals from a tally server")
    .argument('<job_id>', 'the job id')
    .option('-o, --output <file>', 'where to write the totals (default: JOB_ID.totals.csv)')
    .option('--rejects', 'download the rejected rows instead')
    .option('--server <url>', 'the server (default: $TALLY_SERVER or http://127.0.0.1:8000)')
    .option('--api-key <key>', 'API key (default: $TALLY_API_KEY)')
    .action((id: string, options: RemoteOptions & { output?: string; rejects?: boolean }) =>
      runRemote(async () => {
        const what = options.rejects ? 'rejects' : 'result'
        const output = options.output ?? `${id}.${options.rejects ? 'rejects' : 'totals'}.csv`
        await new Remote(options).download(`/jobs/${encodeURIComponent(id)}/${what}`, output)
        process.stderr.write(`tally: wrote ${output}\n`)
      }),
    )
}
