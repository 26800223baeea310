/**
 * `tally worker`: takes jobs from Redis (BullMQ) and runs them, on as many processes and machines
 * as wanted. The API (`tally serve` with the same REDIS_URL) only queues them.
 *
 * Reads the configuration once (every problem reported, exit status 2; REDIS_URL is required
 * here), opens the storage the API writes uploads to (an s3:// store, or a directory every
 * process shares), and runs `TALLY_CONCURRENCY` jobs at once. On SIGTERM or SIGINT it stops
 * taking jobs and lets the running ones finish within `--grace` seconds; what is left goes back
 * to the queue for another worker. A worker killed without that chance (SIGKILL, a lost machine)
 * is detected by the others, which run its job again. The adapters are the composition root's
 * choice (`createStorage`, `createJobBackend`); the Redis and AWS code is loaded only when
 * configured, so the other commands never load it.
 */
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { EXIT_IO, EXIT_USAGE, parseIntegerOption } from './command.js'

interface WorkerOptions {
  grace: number
}

/** Seconds close-with-grace waits beyond the jobs' grace before it exits anyway. */
const CLOSE_MARGIN_SECONDS = 10

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('Run jobs queued in Redis by `tally serve` (needs REDIS_URL)')
    .option(
      '--grace <seconds>',
      'on SIGTERM, how long running jobs may take to finish before they go back to the queue',
      parseIntegerOption,
      30,
    )
    .action((options: WorkerOptions) => worker(options))
}

async function worker(options: WorkerOptions): Promise<void> {
  const { ConfigError, loadConfig, unknownVariables } = await import('../config.js')
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    for (const problem of error.problems) process.stderr.write(`tally: ${problem}\n`)
    process.exitCode = EXIT_USAGE
    return
  }
  if (config.redisUrl === undefined) {
    process.stderr.write(
      'tally: REDIS_URL is not set: `tally worker` takes its jobs from Redis, e.g. REDIS_URL=redis://localhost:6379 (with no Redis, `tally serve` runs jobs itself)\n',
    )
    process.exitCode = EXIT_USAGE
    return
  }

  const { default: pino } = await import('pino')
  const logger = pino({ level: config.logLevel }).child({ role: 'worker' })
  for (const name of unknownVariables(process.env)) {
    logger.warn({ variable: name }, `unknown variable ${name} ignored (a typo?)`)
  }
  if (config.storage.kind === 'file') {
    logger.warn(
      { root: config.storage.root },
      'storage is a local directory: the API and every worker must share it (a shared volume), or use TALLY_STORAGE=s3://...',
    )
  }

  const { createJobBackend, createRunner, createStorage } = await import('../compose.js')
  const storage = await createStorage(config)
  const runner = createRunner(config, storage)
  const jobs = await createJobBackend(config, storage, logger.child({ component: 'jobs' }))
  try {
    await storage.init()
    await runner.init()
    await jobs.init()
    await jobs.start(runner)
  } catch (error) {
    logger.error({ err: error }, 'cannot start')
    process.stderr.write(`tally: cannot start: ${(error as Error).message}\n`)
    await jobs.close().catch(() => {})
    await storage.close().catch(() => {})
    process.exitCode = EXIT_IO
    return
  }

  const { default: closeWithGrace } = await import('close-with-grace')
  const graceMs = options.grace * 1000
  closeWithGrace(
    { delay: graceMs + CLOSE_MARGIN_SECONDS * 1000, logger },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'fatal error: shutting down')
      else logger.info({ signal, graceSeconds: options.grace }, 'shutting down: draining jobs')
      await jobs.stop({ drain: true, graceMs })
      await jobs.close()
      await storage.close()
      logger.info('stopped')
    },
  )
  logger.info(
    { concurrency: config.concurrency, storage: config.storage.kind },
    `tally worker is taking jobs from Redis (${config.concurrency} at a time)`,
  )
}
