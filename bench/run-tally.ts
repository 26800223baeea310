/**
 * One timed tally run in its own process, so that its peak RSS is its own. Prints one line of
 * JSON on stdout: `{ seconds, maxRssMiB, baselineRssMiB, summary }`.
 *
 *   node --import tsx bench/run-tally.ts --input IN --output OUT [--threads N] [--memory MB]
 */
import { parseArgs } from 'node:util'

// The built engine, as `tally` runs it: from sources, every worker thread would load tsx too,
// which costs memory and start-up time that users do not pay. `npm run bench` builds first.
const built = new URL('../dist/engine/index.js', import.meta.url).href
const { aggregate } = (await import(built)) as typeof import('../src/engine/index.js')

const { values } = parseArgs({
  options: {
    input: { type: 'string' },
    output: { type: 'string' },
    threads: { type: 'string', default: '2' },
    memory: { type: 'string' },
  },
})
if (values.input === undefined || values.output === undefined) {
  throw new Error('usage: run-tally.ts --input IN --output OUT [--threads N] [--memory MB]')
}

// What the process holds before any work (Node, tsx, the engine's code), for reading the peak.
const baselineRssMiB = process.memoryUsage().rss / 2 ** 20
const started = performance.now()
const summary = await aggregate(values.input, values.output, {
  threads: Number(values.threads),
  memoryMb: values.memory === undefined ? undefined : Number(values.memory),
})
const seconds = (performance.now() - started) / 1000
// resourceUsage().maxRSS is in KiB and covers every thread of the process.
const maxRssMiB = process.resourceUsage().maxRSS / 1024
process.stdout.write(`${JSON.stringify({ seconds, maxRssMiB, baselineRssMiB, summary })}\n`)
