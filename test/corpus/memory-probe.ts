/**
 * Child process for engine.memory.test.ts: aggregates one file with `aggregate()` and prints,
 * as JSON, the outcome and how much memory the process held at its peak (resident set size,
 * which counts typed arrays, unlike the JS heap) compared with just before the run.
 *
 *   node --import tsx test/corpus/memory-probe.ts INPUT OUTPUT TEMP_DIR
 */
import { aggregate, isEngineError } from '../../src/engine/index.js'

const [input, output, tempDir] = process.argv.slice(2)
if (!input || !output || !tempDir) {
  process.stderr.write('usage: memory-probe INPUT OUTPUT TEMP_DIR\n')
  process.exit(2)
}
const startRssMb = process.resourceUsage().maxRSS / 1024
let code = 'OK'
try {
  await aggregate(input, output, { threads: 1, tempDir })
} catch (error) {
  if (!isEngineError(error)) throw error
  code = error.code
}
const peakRssMb = process.resourceUsage().maxRSS / 1024
process.stdout.write(`${JSON.stringify({ code, startRssMb, peakRssMb })}\n`)
