/**
 * `tally aggregate INPUT`: the engine on the command line. Output to a file (written
 * atomically) or to stdout; a progress bar on stderr when it is a terminal; one summary line.
 */
import { statSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import type { Command } from 'commander'
import { type AggregateInput, aggregate, ON_ERRORS, ORDERS } from '../engine/index.js'
import { parseIntegerOption, runCommand } from './command.js'
import { createProgressBar } from './progress-bar.js'

interface AggregateCommandOptions {
  output?: string
  order: string
  onError: string
  rejects?: string
  threads: number
  memory?: number
  groupBy?: string
  sum?: string
  escapeFormulas?: boolean
  quiet?: boolean
}

export function registerAggregate(program: Command): void {
  program
    .command('aggregate')
    .description('Total the plays per song and date of a CSV file (plain or gzip; - for stdin)')
    .argument('<input>', 'CSV file, gzip CSV file, or - for standard input')
    .option('-o, --output <file>', 'write the totals here instead of standard output')
    .option('--order <order>', `row order: ${ORDERS.join(' | ')}`, 'first_seen')
    .option('--on-error <policy>', `bad rows: ${ON_ERRORS.join(' | ')}`, 'skip')
    .option('--rejects <file>', 'write the rejected rows (line, code, reason, raw row) here')
    .option('--threads <n>', 'worker threads', parseIntegerOption, availableParallelism())
    .option('--memory <mb>', 'memory budget for the groups, in MiB', parseIntegerOption)
    .option('--group-by <columns>', 'comma-separated columns to group by (default: Song,Date)')
    .option('--sum <column>', 'integer column to sum (default: Number of Plays)')
    .option(
      '--escape-formulas',
      "write text values starting with = + - @, tab or CR as text ('=...), for spreadsheets",
    )
    .option('-q, --quiet', 'no progress bar and no summary line')
    .action((input: string, options: AggregateCommandOptions) =>
      runCommand(() => runAggregate(input, options)),
    )
}

async function runAggregate(input: string, options: AggregateCommandOptions): Promise<void> {
  const bar = options.quiet ? undefined : createProgressBar(process.stderr)
  const started = performance.now()
  if (input !== '-' && statSync(input).isDirectory()) {
    throw Object.assign(new Error(`${input} is a directory`), {
      code: 'EISDIR',
      syscall: 'open',
      path: input,
    })
  }
  const source: AggregateInput = input === '-' ? process.stdin : input
  try {
    const summary = await aggregate(source, options.output ?? process.stdout, {
      order: options.order,
      onError: options.onError,
      rejects: options.rejects,
      threads: options.threads,
      memoryMb: options.memory,
      groupBy: options.groupBy,
      sum: options.sum,
      escapeFormulas: options.escapeFormulas === true,
      onProgress: bar?.update,
    })
    bar?.done()
    if (!options.quiet) {
      const seconds = (performance.now() - started) / 1000
      const rate = summary.bytesRead / 1e6 / seconds
      const n = (x: number) => x.toLocaleString('en-US')
      process.stderr.write(
        `tally: ${n(summary.rowsRead)} rows read, ${n(summary.rowsRejected)} rejected, ${n(summary.groups)} groups in ${seconds.toFixed(2)} s (${rate.toFixed(0)} MB/s)\n`,
      )
    }
  } finally {
    bar?.done()
  }
}
