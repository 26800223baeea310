/**
 * A `tally` server process (`serve` or `worker`) started by a test or a bench, its stdout and
 * stderr collected together, tied to this process so it never outlives it.
 */
import type { ChildProcess } from 'node:child_process'
import { spawnTied } from './tied-process.js'

export interface TallyProcess {
  readonly name: string
  readonly child: ChildProcess
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string
  readonly exited: Promise<void>
}

/** Runs `node ...command`: the CLI's entry (and its loader) first, then its arguments. */
export function startTallyProcess(
  name: string,
  command: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): TallyProcess {
  const child = spawnTied(process.execPath, command, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const collect = (chunk: Buffer) => {
    output += chunk.toString()
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  return { name, child, output: () => output, exited }
}

/** Waits until the process printed `text`; throws with its output if it exits or times out. */
export async function waitForOutput(
  made: TallyProcess,
  text: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!made.output().includes(text)) {
    if (made.child.exitCode !== null || made.child.signalCode !== null) {
      throw new Error(`${made.name} exited before it was ready:\n${made.output()}`)
    }
    if (Date.now() > deadline) throw new Error(`${made.name} did not start:\n${made.output()}`)
    await new Promise((done) => setTimeout(done, 50))
  }
}

/** SIGTERM (it drains), then SIGKILL if it has not exited after `killAfterMs`. */
export async function stopTallyProcess(made: TallyProcess, killAfterMs = 5_000): Promise<void> {
  const { child } = made
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
  await made.exited
  clearTimeout(timer)
}
