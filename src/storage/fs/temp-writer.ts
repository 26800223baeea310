/**
 * Who writes a temporary (`.partial`) file, so that `init()` can remove the ones whose writer is
 * known to be dead at once, instead of waiting for them to get old (a server killed during an
 * upload restarts in a second; its half upload must not linger for an hour).
 *
 * The fs store names its temporaries `<final name>.<writer tag>.<random>.partial`, the tag being
 * `m<machine>p<pid>t<process token>`. "Machine" hashes the hostname, the kernel's boot id and the
 * PID namespace, so a pid is only ever compared with processes it can name: another machine, a
 * reboot, or another container on a shared volume never match, and their files keep the age rule.
 * A writer is dead when it is on this machine and its pid no longer exists, or when the pid is
 * ours but the token is not (this process reborn with the same pid). Files without a tag (the
 * engine's `.tally-<hex>.partial`, older versions') keep the age rule.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, readlinkSync } from 'node:fs'
import { hostname } from 'node:os'

const PROCESS_TOKEN = randomBytes(4).toString('hex')
const TAGGED = /\.m([0-9a-f]{8})p(\d+)t([0-9a-f]{8})\.[0-9a-f]+\.partial$/

let machine: string | undefined

function machineId(): string {
  machine ??= createHash('sha256')
    .update(
      [hostname(), quietly(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'))].join(
        '\n',
      ),
    )
    .update(quietly(() => readlinkSync('/proc/self/ns/pid')))
    .digest('hex')
    .slice(0, 8)
  return machine
}

function quietly(read: () => string): string {
  try {
    return read().trim()
  } catch {
    return ''
  }
}

/** The part of a temporary file's name that says which process writes it. */
export function writerTag(): string {
  return `m${machineId()}p${process.pid}t${PROCESS_TOKEN}`
}

/** True only when the temporary file `name` was written by a process known to be gone. */
export function writerIsDead(name: string): boolean {
  const match = TAGGED.exec(name)
  if (!match || match[1] !== machineId()) return false
  const pid = Number(match[2])
  if (pid === process.pid) return match[3] !== PROCESS_TOKEN
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    // EPERM: it exists (another user's). Only "no such process" proves the writer gone.
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}
