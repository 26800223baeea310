/**
 * `spawn` for servers and workers that tests start: the child gets SIGKILL when the test process
 * dies, however it dies (vitest ends a timed-out test's fork with a signal, so no `exit` handler
 * runs). Uses Linux's parent-death signal through util-linux's `setpriv`; where it is missing,
 * a plain spawn.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process'

let setprivWorks: boolean | undefined

export function spawnTied(command: string, args: string[], options: SpawnOptions): ChildProcess {
  setprivWorks ??= spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true']).status === 0
  return setprivWorks
    ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', command, ...args], options)
    : spawn(command, args, options)
}
