/**
 * A real `redis-server` for tests: a child process on 127.0.0.1 and a free port, persistence off
 * by default, in its own temporary directory. `.ci/run` installs Debian's `redis-server`; without
 * it the tests fail at once saying so, rather than skipping.
 */
import { type ChildProcess, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'
import { spawnTied } from './tied-process.js'

export interface RedisServerOptions {
  /**
   * Append-only file with an fsync per write, so a server killed with SIGKILL comes back with
   * every acknowledged write (for restart tests). Default: no persistence at all.
   */
  appendOnly?: boolean
}

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Kills the server with SIGKILL (a crash). */
  kill(): Promise<void>
  /** Starts it again on the same port and directory (after `kill`). */
  start(): Promise<void>
  /** Stops it and removes its directory. */
  stop(): Promise<void>
}

const READY_TIMEOUT_MS = 10_000

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  assertInstalled()
  const dir = await mkdtemp(join(tmpdir(), 'tally-redis-'))
  let port = 0
  let child: ChildProcess | undefined
  // A free port can be taken by someone else before redis binds it: try a few.
  for (let attempt = 1; !child; attempt++) {
    port = await freePort()
    try {
      child = await launch(port, dir, options)
    } catch (error) {
      if (attempt >= 5) {
        await rm(dir, { recursive: true, force: true })
        throw error
      }
    }
  }
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      await terminate(child, 'SIGKILL')
      child = undefined
    },
    async start() {
      if (!child) child = await launch(port, dir, options)
    },
    async stop() {
      await terminate(child, 'SIGTERM')
      child = undefined
      await rm(dir, { recursive: true, force: true })
    },
  }
  return server
}

function assertInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'redis-server is not installed: the BullMQ tests need a real Redis (Debian: apt-get install -y redis-server; .ci/run does it)',
    )
  }
}

async function launch(
  port: number,
  dir: string,
  options: RedisServerOptions,
): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--dir',
    dir,
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--daemonize',
    'no',
  ]
  const child = spawnTied('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`redis-server did not start within ${READY_TIMEOUT_MS} ms:\n${output}`))
    }, READY_TIMEOUT_MS)
    const onData = (data: Buffer) => {
      output += data.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited (${code ?? signal}) on port ${port}:\n${output}`))
    })
  })
  // Keep draining its output so it never blocks on a full pipe.
  child.stdout!.resume()
  child.stderr!.resume()
  return child
}

async function terminate(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  await exited
}
