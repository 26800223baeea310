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

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, expected a file',
  ENOSPC: 'no space left on the device',
  ENOTDIR: 'a part of the path is not a directory',
}

export function reportError(error: unknown): number {
  if (isEngineError(error)) {
    process.stderr.write(`tally: ${error.code}: ${error.message}\n`)
    return error.code.startsWith('INVALID_OPTION') ? EXIT_USAGE : EXIT_FAILED
  }
  const e = error as NodeJS.ErrnoException
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    const what = ERRNO_WORDS[e.code] ?? e.code
    // An output is written under a temporary name first: name the file the user asked for.
    const path = (e.path ?? e.syscall).replace(/\.tally-[0-9a-f]+\.partial$/, '')
    process.stderr.write(`tally: ${path}: ${what}\n`)
    return EXIT_IO
  }
  process.stderr.write(`tally: unexpected error: ${e instanceof Error ? e.message : String(e)}\n`)
  return EXIT_FAILED
}
