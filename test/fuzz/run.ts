/**
 * The long fuzz run of the engine: `npm run fuzz [-- --runs N] [--seconds S] [--seed X]`.
 *
 * Runs the properties of test/fuzz/properties.ts (the ones `npm test` runs a few thousand
 * times) with about N cases in all (default 50,000), shared among them (the file API property,
 * which starts threads for each case, gets a small share), stopping each at its share of the
 * time bound when there is one. Prints the cases run and the time taken.
 *
 * Cases run in batches, each batch under its own seed (the given seed plus the batch number).
 * On a failure it prints the counterexample (shrunk) with the seed and path to replay it, then
 * goes on with the next batches (up to 3 failures per property, so that one known bug does not
 * hide the others), and exits 1 at the end.
 */
import fc from 'fast-check'
import { cleanUpFileRuns, coverage, PROPERTIES } from './properties.js'

const MAX_FAILURES_PER_PROPERTY = 3

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
  const args: Args = { runs: 50_000, seconds: undefined, seed: (Math.random() * 2 ** 31) | 0 }
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

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

const args = parseArgs(process.argv.slice(2))
const started = performance.now()
const shares = PROPERTIES.reduce((sum, p) => sum + p.share, 0)
let total = 0
let failures = 0
process.stdout.write(
  `fuzz: ${args.runs} cases${args.seconds ? `, at most ${args.seconds} s` : ''}, seed ${args.seed}\n`,
)

try {
  for (const { name, share, property } of PROPERTIES) {
    const t0 = performance.now()
    // The time bound is shared in proportion to the expected cost, not the number of cases.
    const timeShare = share < 0.01 ? 0.25 : (0.75 * share) / (shares - 0.002)
    const deadline =
      args.seconds === undefined ? Number.POSITIVE_INFINITY : t0 + args.seconds * 1000 * timeShare
    // Cases run in batches, each under its own seed (printed with a failure to replay it), and
    // the time bound is checked between batches: an async case is never left running.
    const batchSize = share < 0.01 ? 4 : 2_000
    let remaining = Math.max(3, Math.round(args.runs * share))
    let ran = 0
    let failed = 0
    let stoppedByTime = false
    for (let batch = 0; remaining > 0 && failed < MAX_FAILURES_PER_PROPERTY; batch++) {
      if (performance.now() >= deadline) {
        stoppedByTime = true
        break
      }
      const seed = (args.seed + batch) | 0
      const details = await fc.check(property(), { numRuns: Math.min(remaining, batchSize), seed })
      ran += details.numRuns
      remaining -= details.numRuns
      if (details.failed) {
        failed++
        process.stdout.write(`\n${name}: FAILED\n${fc.defaultReportMessage(details) ?? ''}\n`)
        process.stdout.write(`error: ${errorText(details.errorInstance)}\n`)
        process.stdout.write(
          `replay: fc.assert(property, { seed: ${details.seed}, path: "${details.counterexamplePath ?? ''}" })\n\n`,
        )
      }
    }
    total += ran
    failures += failed
    const seconds = (performance.now() - t0) / 1000
    process.stdout.write(
      `  ${name}: ${ran} cases in ${seconds.toFixed(1)} s` +
        `${stoppedByTime ? ' (stopped at its time limit)' : ''}` +
        `${failed > 0 ? `, ${failed} failure(s)` : ''}\n`,
    )
  }
} finally {
  cleanUpFileRuns()
}

const seconds = (performance.now() - started) / 1000
process.stdout.write(
  `fuzz: ${total} cases in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} per second); ` +
    `the reference covered ${coverage.compared} inputs, not ${coverage.notCovered}; ` +
    `${failures > 0 ? `${failures} FAILURE(S)` : 'no failure'}\n`,
)
process.exitCode = failures > 0 ? 1 : 0
