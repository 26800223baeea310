/**
 * The long fuzz run of the engine: `npm run fuzz [-- --runs N] [--seconds S] [--seed X]`.
 *
 * Runs the properties of test/fuzz/properties.ts (the ones `npm test` runs a few hundred times)
 * with N cases in all (default 50,000), shared among them, stopping each one at its share of the
 * time bound when there is one. Prints the cases run and the time taken; on a failure prints the
 * counterexample (shrunk) with the seed and path to replay it, goes on with the other
 * properties (a property stops at its first failure), and exits 1.
 */
import fc from 'fast-check'
import { coverage, PROPERTIES } from './properties.js'

interface Args {
  runs: number
  seconds: number | undefined
  seed: number
}

function usage(message: string): never {
  process.stderr.write(
    `fuzz: ${message}\nusage: npm run fuzz -- [--runs N] [--seconds S] [--seed X]\n`,
  )
  process.exit(2)
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    runs: 50_000,
    seconds: undefined,
    seed: Date.now() ^ (Math.random() * 2 ** 31),
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = argv[i + 1]
    const number = Number(value)
    if (!['--runs', '--seconds', '--seed'].includes(flag)) usage(`unknown argument ${flag}`)
    if (value === undefined || !Number.isFinite(number)) usage(`${flag} needs a number`)
    i++
    if (flag === '--runs') {
      if (!Number.isInteger(number) || number < 1) usage('--runs must be a positive integer')
      args.runs = number
    } else if (flag === '--seconds') {
      if (!(number > 0)) usage('--seconds must be positive')
      args.seconds = number
    } else {
      args.seed = Math.trunc(number) | 0
    }
  }
  return args
}

const args = parseArgs(process.argv.slice(2))
const started = performance.now()
let total = 0
let failed = false
process.stdout.write(
  `fuzz: ${args.runs} cases${args.seconds ? `, at most ${args.seconds} s` : ''}, seed ${args.seed}\n`,
)

for (const { name, share, property } of PROPERTIES) {
  const numRuns = Math.max(1, Math.round(args.runs * share))
  const limitMs = args.seconds === undefined ? undefined : args.seconds * 1000 * share
  const t0 = performance.now()
  const details = fc.check(property(), {
    numRuns,
    seed: args.seed,
    interruptAfterTimeLimit: limitMs,
    markInterruptAsFailure: false,
  })
  const seconds = (performance.now() - t0) / 1000
  total += details.numRuns
  const stopped = details.interrupted ? ' (stopped at its time limit)' : ''
  process.stdout.write(
    `  ${name}: ${details.numRuns} cases in ${seconds.toFixed(1)} s${stopped}${details.failed ? ': FAILED' : ''}\n`,
  )
  if (details.failed) {
    failed = true
    process.stdout.write(`${fc.defaultReportMessage(details) ?? 'no report'}\n`)
    const error = details.errorInstance
    process.stdout.write(`error: ${error instanceof Error ? error.message : String(error)}\n`)
    process.stdout.write(
      `replay: seed ${details.seed}, path "${details.counterexamplePath ?? ''}" (fc.assert options)\n`,
    )
  }
}

const seconds = (performance.now() - started) / 1000
process.stdout.write(
  `fuzz: ${total} cases in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} per second); ` +
    `the reference covered ${coverage.compared} inputs, not ${coverage.notCovered}; ` +
    `${failed ? 'FAILED' : 'no failure'}\n`,
)
process.exitCode = failed ? 1 : 0
