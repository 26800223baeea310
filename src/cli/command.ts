/** Shared plumbing for the sub-commands: option parsing and the error-to-exit-code policy. */
import { InvalidArgumentError } from 'commander'
import { isEngineError } from '../engine/index.js'

/** Exit codes: 1 the input or the job failed; 2 bad usage; 3 I/O or connection problem. */
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2
export const EXIT_IO = 3

export function parseIntegerOption(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}

/** Runs a command's body; a failure becomes one line on stderr and an exit code, no stack. */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (error) {
    process.exitCode = reportError(error)
  }
}

export function reportError(error: unknown): number {
  if (isEngineError(error)) {
    process.stderr.write(`tally: ${error.code}: ${error.message}\n`)
    return error.code.startsWith('INVALID_OPTION') ? EXIT_USAGE : EXIT_FAILED
  }
  const e = error as NodeJS.ErrnoException
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    const what =
      e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code
    process.stderr.write(`tally: ${e.path ?? e.syscall}: ${what}\n`)
    return EXIT_IO
  }
  process.stderr.write(`tally: unexpected error: ${e instanceof Error ? e.message : String(e)}\n`)
  return EXIT_FAILED
}
