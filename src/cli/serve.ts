/**
 * `tally serve`: the HTTP API and the job runner in one process (embedded queue). With REDIS_URL
 * it only queues jobs for `tally worker`s, unless `--with-worker` asks it to run them too.
 *
 * Reads the configuration once (every problem reported, one line each, exit status 2), composes
 * the service, listens on TALLY_HOST:TALLY_PORT (or `--host`/`--port`), and on SIGTERM or SIGINT
 * shuts down gracefully: stops accepting requests, lets running jobs finish within `--grace`
 * seconds, then stops and requeues what is left, so the next start runs them again. The service
 * modules are loaded only when this command runs, so the other commands start fast.
 */
import { type Command, InvalidArgumentError } from 'commander'
import { EXIT_FAILED, EXIT_USAGE } from './command.js'

interface ServeOptions {
  port?: string
  host?: string
  grace: number
  withWorker?: boolean
}

/** Seconds close-with-grace waits beyond the jobs' grace before it exits anyway. */
const CLOSE_MARGIN_SECONDS = 10

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the HTTP API and the background job runner')
    .option('--port <port>', 'TCP port to listen on (overrides TALLY_PORT)')
    .option('--host <host>', 'address to listen on (overrides TALLY_HOST)')
    .option(
      '--grace <seconds>',
      'on SIGTERM, how long running jobs may take to finish before they are requeued',
      parseSeconds,
      30,
    )
    .option(
      '--with-worker',
      'with REDIS_URL, also run queued jobs in this process (default: only queue them for `tally worker`s)',
    )
    .action((options: ServeOptions) => serve(options))
}

async function serve(options: ServeOptions): Promise<void> {
  const { ConfigError, loadConfig, unknownVariables } = await import('../config.js')
  const env = { ...process.env }
  if (options.port !== undefined) env.TALLY_PORT = options.port
  if (options.host !== undefined) env.TALLY_HOST = options.host
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    for (const problem of error.problems)
      process.stderr.write(`tally: ${flagName(problem, options)}\n`)
    process.exitCode = EXIT_USAGE
    return
  }

  const { compose } = await import('../compose.js')
  let service: Awaited<ReturnType<typeof compose>>
  try {
    service = await compose(config, { runJobs: options.withWorker ?? false })
  } catch (error) {
    process.stderr.write(`tally: cannot start: ${(error as Error).message}\n`)
    process.exitCode = EXIT_FAILED
    return
  }
  const { logger } = service
  for (const name of unknownVariables(process.env)) {
    logger.warn({ variable: name }, `unknown variable ${name} ignored (a typo?)`)
  }

  const { default: closeWithGrace } = await import('close-with-grace')
  const graceMs = options.grace * 1000
  closeWithGrace(
    { delay: graceMs + CLOSE_MARGIN_SECONDS * 1000, logger },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'fatal error: shutting down')
      else logger.info({ signal, graceSeconds: options.grace }, 'shutting down: draining jobs')
      await service.close({ graceMs })
      logger.info('stopped')
    },
  )

  try {
    await service.app.listen({ host: config.host, port: config.port })
  } catch (error) {
    logger.error({ err: error }, `cannot listen on ${config.host}:${config.port}`)
    await service.close()
    process.exitCode = EXIT_FAILED
    return
  }
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  if (config.redisUrl !== undefined) {
    logger.info(
      { runsJobs: options.withWorker ?? false },
      options.withWorker
        ? 'jobs go through Redis; this process runs them too (--with-worker)'
        : 'jobs go through Redis and run on `tally worker`s (this process only queues them)',
    )
  }
  logger.info(
    { url: `http://${shown}:${config.port}` },
    `tally is serving on http://${shown}:${config.port} (API docs at /docs)`,
  )
}

function parseSeconds(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InvalidArgumentError('expected a whole number of seconds')
  return Number(value)
}

/** A problem with a value that came from a flag names the flag, not the variable. */
function flagName(problem: string, options: ServeOptions): string {
  if (options.port !== undefined && problem.startsWith('TALLY_PORT:')) {
    return problem.replace('TALLY_PORT:', '--port:')
  }
  if (options.host !== undefined && problem.startsWith('TALLY_HOST:')) {
    return problem.replace('TALLY_HOST:', '--host:')
  }
  return problem
}
