/**
 * The `tally` command line. Each sub-command lives in its own file and registers itself here.
 */
import { Command } from 'commander'
import { registerAggregate } from './aggregate.js'
import { EXIT_USAGE } from './command.js'
import { registerDownload } from './download.js'
import { registerGenerate } from './generate.js'
import { registerServe } from './serve.js'
import { registerStatus } from './status.js'
import { registerSubmit } from './submit.js'
import { registerWorker } from './worker.js'

const program = new Command()
  .name('tally')
  .description('Total plays per song and date from large CSV files: a CLI and an HTTP service.')
  .showHelpAfterError()
  // Usage errors (unknown option, bad value, missing argument) exit 2, as documented.
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE)
  })

registerAggregate(program)
registerGenerate(program)
registerServe(program)
registerWorker(program)
registerSubmit(program)
registerStatus(program)
registerDownload(program)

await program.parseAsync(process.argv)
