/**
 * `tally submit FILE...`: uploads each file to a tally server with tus (`tus-js-client`: a
 * dropped connection is retried and the upload resumes from the offset the server reports),
 * starts its job, follows the job's progress from the SSE stream, and downloads the totals.
 * With `--no-wait` it prints each job id and stops after starting the jobs.
 *
 * Exit codes: 0 all jobs succeeded; 1 a job failed or the server refused a file; 3 the server
 * could not be reached.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Command } from 'commander'
import { Upload } from 'tus-js-client'
import { ON_ERRORS, ORDERS } from '../engine/index.js'
import { EXIT_IO, EXIT_USAGE } from './command.js'
import {
  isFinal,
  jobFailure,
  lineBar,
  Remote,
  RemoteError,
  type RemoteOptions,
  runRemote,
} from './remote.js'

export interface SubmitOptions extends RemoteOptions {
  output?: string
  order?: string
  onError?: string
  escapeFormulas?: boolean
  wait: boolean
}

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .description('upload CSV files to a tally server, follow their jobs and download the totals')
    .argument('<files...>', 'CSV files (plain or gzip)')
    .option('--server <url>', 'the server (default: $TALLY_SERVER or http://127.0.0.1:8000)')
    .option('--api-key <key>', 'API key (default: $TALLY_API_KEY)')
    .option('-o, --output <file>', 'where to write the totals (one input file only)')
    .option('--order <order>', `row order: ${ORDERS.join(' | ')}`)
    .option('--on-error <policy>', `bad rows: ${ON_ERRORS.join(' | ')}`)
    .option(
      '--escape-formulas',
      "write text values starting with = + - @, tab or CR as text ('=...), for spreadsheets",
    )
    .option('--no-wait', 'print the job ids and return once the jobs are started')
    .action((files: string[], options: SubmitOptions) => {
      if (options.output && files.length > 1) {
        process.stderr.write('tally: -o/--output needs exactly one input file\n')
        process.exitCode = EXIT_USAGE
        return
      }
      return runRemote(() => submitAll(files, options))
    })
}

export async function submitAll(files: string[], options: SubmitOptions): Promise<void> {
  const remote = new Remote(options)
  // Fails fast when the server is not there (tus would retry for a while first).
  await remote.request('/health')
  const jobOptions: Record<string, string> = {}
  if (options.order) jobOptions.order = options.order
  if (options.onError) jobOptions.on_error = options.onError
  if (options.escapeFormulas) jobOptions.escape_formulas = 'true'
  let failure: RemoteError | undefined
  for (const file of files) {
    try {
      await submitOne(remote, file, jobOptions, options)
    } catch (error) {
      if (!(error instanceof RemoteError) || error.exitCode === EXIT_IO) throw error
      // A refused file or a failed job: say so, go on with the others, exit 1 at the end.
      process.stderr.write(`tally: ${file}: ${error.message}\n`)
      failure = error
    }
  }
  if (failure) throw new RemoteError('some jobs did not succeed', failure.exitCode)
}

async function submitOne(
  remote: Remote,
  file: string,
  jobOptions: Record<string, string>,
  options: SubmitOptions,
): Promise<void> {
  const uploadId = await upload(remote, file)
  const started = await remote.startJob(uploadId, jobOptions)
  if (!options.wait) {
    process.stdout.write(`${started.job_id}\n`)
    return
  }
  const bar = lineBar(process.stderr)
  const view = await remote.follow(started.job_id, (v) => {
    if (isFinal(v) || !v.progress) return
    const p = v.progress
    const eta = p.eta_seconds === null ? '' : ` ETA ${p.eta_seconds}s`
    bar.draw('job', p.percent === null ? null : p.percent / 100, `${p.rows} rows${eta}`)
  })
  bar.done()
  if (view.status !== 'succeeded') throw jobFailure(view)
  const output = options.output ?? `${basename(file).replace(/(\.csv)?(\.gz)?$/i, '')}.totals.csv`
  await remote.download(`/jobs/${view.job_id}/result`, output)
  const r = view.result
  const summary = r ? `: ${r.rows_read} rows, ${r.rows_rejected} rejected, ${r.groups} totals` : ''
  process.stderr.write(`tally: ${file} -> ${output}${summary}\n`)
  process.stdout.write(`${view.job_id}\n`)
}

/** One file over tus; resolves with the upload id. */
async function upload(remote: Remote, file: string): Promise<string> {
  const size = (await stat(file)).size
  const bar = lineBar(process.stderr)
  return new Promise<string>((resolve, reject) => {
    const tus = new Upload(createReadStream(file), {
      endpoint: `${remote.server}/uploads`,
      headers: remote.headers,
      uploadSize: size,
      chunkSize: 16 * 1024 * 1024,
      metadata: { filename: basename(file) },
      // A dropped connection: wait, ask the server for its offset (HEAD), go on from there.
      retryDelays: [0, 1000, 3000, 5000, 10_000],
      onProgress: (sent, total) => bar.draw('upload', total ? sent / total : null),
      onSuccess: () => {
        bar.done()
        const id = tus.url?.split('/').pop()
        if (id) resolve(id)
        else reject(new RemoteError('the server did not name the upload', EXIT_IO))
      },
      onError: (error) => {
        bar.done()
        reject(uploadError(remote, error))
      },
    })
    tus.start()
  })
}

function uploadError(remote: Remote, error: Error): RemoteError {
  const status = (
    error as { originalResponse?: { getStatus(): number } }
  ).originalResponse?.getStatus()
  if (status !== undefined && status >= 400 && status < 500) {
    return new RemoteError(
      `upload refused (${status}): ${error.message.split(', originated')[0]}`,
      1,
    )
  }
  return new RemoteError(
    `cannot upload to ${remote.server}: ${error.message.split(', originated')[0]}`,
    EXIT_IO,
  )
}
