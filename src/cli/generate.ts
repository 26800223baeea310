/**
 * `tally generate`: writes a synthetic song-plays CSV (see generate-data.ts) to stdout or to a
 * file, gzip-compressed when the file name ends in `.gz`.
 */
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import { type Command, InvalidArgumentError } from 'commander'
import {
  type GenerateOptions,
  type GenerateSummary,
  generateSongPlaysChunks,
  validateGenerateOptions,
} from './generate-data.js'

export {
  type GenerateOptions,
  type GenerateSummary,
  generateSongPlays,
  songName,
} from './generate-data.js'

interface GenerateFlags {
  rows: number
  songs: number
  days: number
  seed: number
  badRows: number
  output?: string
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description(
      'Write a synthetic song-plays CSV: the same bytes for the same seed, Zipf-like song ' +
        'popularity, dates from 2020-01-01, optional bad rows.',
    )
    .option('--rows <count>', 'data rows; k, M, G suffixes allowed', parseCount, 1_000_000)
    .option('--songs <count>', 'distinct songs', parseCount, 10_000)
    .option('--days <count>', 'consecutive days starting 2020-01-01', parseCount, 365)
    .option('--seed <integer>', 'random seed', parseCount, 1)
    .option('--bad-rows <rate>', 'fraction of rows replaced by bad ones, 0 to 1', parseRate, 0)
    .option('-o, --output <file>', 'write to this file (gzip when it ends in .gz), not stdout')
    .action(async (flags: GenerateFlags, command: Command) => {
      const options: GenerateOptions = {
        rows: flags.rows,
        songs: flags.songs,
        days: flags.days,
        seed: flags.seed,
        badRowRate: flags.badRows,
      }
      try {
        validateGenerateOptions(options)
      } catch (error) {
        command.error(`error: ${(error as Error).message}`)
      }
      try {
        await writeGenerated(options, flags.output)
      } catch (error) {
        const { code, message } = error as NodeJS.ErrnoException
        // `tally generate | head` closes the pipe early: that is the reader's choice, not a failure.
        if (code === 'EPIPE') return
        if (typeof code !== 'string') throw error
        // File system problems (no such directory, no space) are the user's to fix: no stack.
        process.stderr.write(`tally: cannot write ${flags.output ?? 'stdout'}: ${message}\n`)
        process.exitCode = 1
      }
    })
}

async function writeGenerated(options: GenerateOptions, output: string | undefined) {
  let summary: GenerateSummary | undefined
  const chunks = function* () {
    summary = yield* generateSongPlaysChunks(options)
  }
  const source = Readable.from(chunks(), { objectMode: false })
  if (output === undefined) {
    await pipeline(source, process.stdout)
    return
  }
  // Written under a temporary name and renamed, so a reader never sees half a file.
  const partial = `${output}.${randomBytes(6).toString('hex')}.partial`
  const started = performance.now()
  try {
    const file: Writable = createWriteStream(partial)
    if (output.endsWith('.gz')) await pipeline(source, createGzip(), file)
    else await pipeline(source, file)
    await rename(partial, output)
  } catch (error) {
    await rm(partial, { force: true })
    throw error
  }
  const seconds = (performance.now() - started) / 1000
  const { rows, badRows, bytes } = summary!
  process.stderr.write(
    `wrote ${rows} rows (${badRows} bad), ${(bytes / 1e6).toFixed(1)} MB of CSV, to ${output} in ${seconds.toFixed(1)} s\n`,
  )
}

const COUNT_SCALES: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 }

/** A non-negative integer, optionally with a decimal suffix: `50k`, `10M`, `1.5G`. */
export function parseCount(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(value.replaceAll('_', '').trim())
  const count = match ? Number(match[1]) * COUNT_SCALES[match[2].toLowerCase()] : Number.NaN
  if (!Number.isSafeInteger(count)) {
    throw new InvalidArgumentError(`expected a whole number such as 1000 or 10M, got "${value}"`)
  }
  return count
}

function parseRate(value: string): number {
  const rate = Number(value)
  if (value.trim() === '' || !(rate >= 0 && rate <= 1)) {
    throw new InvalidArgumentError(`expected a fraction from 0 to 1 such as 0.01, got "${value}"`)
  }
  return rate
}
