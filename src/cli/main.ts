/**
 * The `tally` command line. Each sub-command lives in its own file and registers itself here.
 */
import { Command } from 'commander'
import { registerAggregate } from './aggregate.js'
import { registerGenerate } from './generate.js'
import { registerServe } from './serve.js'
import { registerWorker } from './worker.js'

const program = new Command()
  .name('tally')
  .description('Total plays per song and date from large CSV files: a CLI and an HTTP service.')
  .showHelpAfterError()

registerAggregate(program)
registerGenerate(program)
registerServe(program)
registerWorker(program)

await program.parseAsync(process.argv)
