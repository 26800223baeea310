/**
 * `tally serve` as a real child process: nothing accepted is lost. Killed with SIGKILL while a
 * job runs (and others wait), the restarted server runs them all to the exact output. SIGTERM
 * drains: a job that finishes within the grace period is done before the process exits; with
 * no grace it is requeued and the next start finishes it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/free-port.js'
import { engineOutput, PLAYS_CSV, PLAYS_TOTALS, songPlays } from './support/service.js'

const root = resolve(import.meta.dirname, '../..')

let big: Buffer
let bigTotals: Buffer

beforeAll(async () => {
  big = songPlays(700_000, 21) // about 21 MB
  bigTotals = await engineOutput(big)
})

interface Server {
  child: ChildProcess
  url: string
  output: () => string
  exited: Promise<number | null>
}

async function startServer(dir: string, port: number, args: string[] = []): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...args], {
    cwd: root,
    env: {
      ...process.env,
      TALLY_DATA_DIR: dir,
      TALLY_HOST: '127.0.0.1',
      TALLY_PORT: String(port),
      TALLY_THREADS: '1',
      TALLY_CONCURRENCY: '1',
      TALLY_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)))
  const deadline = Date.now() + 30_000
  while (!output.includes('tally is serving')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`tally serve did not start:\n${output}`)
    }
    await new Promise((done) => setTimeout(done, 50))
  }
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited }
}

async function submit(url: string, content: Buffer | string): Promise<string> {
  const response = await fetch(`${url}/jobs`, {
    method: 'POST',
    body: content,
    headers: { 'content-type': 'text/csv' },
  })
  expect(response.status).toBe(202)
  return ((await response.json()) as { job_id: string }).job_id
}

async function status(url: string, id: string): Promise<string> {
  return ((await (await fetch(`${url}/jobs/${id}`)).json()) as { status: string }).status
}

async function until(
  url: string,
  id: string,
  wanted: string[],
  timeoutMs = 45_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const current = await status(url, id)
    if (wanted.includes(current)) return current
    if (Date.now() > deadline) throw new Error(`job ${id} still ${current}`)
    await new Promise((done) => setTimeout(done, 20))
  }
}

/** A job's status as the stopped server left it in its database. */
function storedStatus(dataDir: string, id: string): string {
  const db = new BetterSqlite3(join(dataDir, 'jobs.sqlite'), { readonly: true })
  try {
    return (db.prepare('SELECT status FROM jobs WHERE id = ?').get(id) as { status: string }).status
  } finally {
    db.close()
  }
}

async function result(url: string, id: string): Promise<Buffer> {
  return Buffer.from(await (await fetch(`${url}/jobs/${id}/result`)).arrayBuffer())
}

describe('tally serve', () => {
  let dir: string
  const running: ChildProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-serve-'))
  })
  afterAll(async () => {
    for (const child of running) if (child.exitCode === null) child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  it('after SIGKILL while a job runs and others wait, runs them all again to the exact output', async () => {
    const port = await freePort()
    const first = await startServer(join(dir, 'kill'), port)
    running.push(first.child)
    const bigId = await submit(first.url, big)
    const waiting = [await submit(first.url, PLAYS_CSV), await submit(first.url, PLAYS_CSV)]
    await until(first.url, bigId, ['running'])
    expect(await status(first.url, waiting[0]!)).toBe('queued')
    first.child.kill('SIGKILL')
    await first.exited

    const second = await startServer(join(dir, 'kill'), port)
    running.push(second.child)
    expect(await until(second.url, bigId, ['succeeded', 'failed'])).toBe('succeeded')
    expect((await result(second.url, bigId)).equals(bigTotals)).toBe(true)
    for (const id of waiting) {
      expect(await until(second.url, id, ['succeeded', 'failed'])).toBe('succeeded')
      expect((await result(second.url, id)).toString()).toBe(PLAYS_TOTALS)
    }
    expect(second.output()).toContain('job requeued after a restart')
    second.child.kill('SIGTERM')
    expect(await second.exited).toBe(0)
  })

  it('on SIGTERM with no grace, requeues the running job; the next start finishes it', async () => {
    const port = await freePort()
    const first = await startServer(join(dir, 'term'), port, ['--grace', '0'])
    running.push(first.child)
    const id = await submit(first.url, big)
    await until(first.url, id, ['running'])
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    expect(first.output()).toContain('shutting down')
    expect(storedStatus(join(dir, 'term'), id)).toBe('queued')

    const second = await startServer(join(dir, 'term'), port)
    running.push(second.child)
    expect(await until(second.url, id, ['succeeded', 'failed'])).toBe('succeeded')
    expect((await result(second.url, id)).equals(bigTotals)).toBe(true)
    second.child.kill('SIGTERM')
    await second.exited
  })

  it('on SIGTERM within the grace period, lets the running job finish before it exits', async () => {
    const port = await freePort()
    const server = await startServer(join(dir, 'drain'), port, ['--grace', '30'])
    running.push(server.child)
    const id = await submit(server.url, big)
    await until(server.url, id, ['running'])
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    expect(storedStatus(join(dir, 'drain'), id)).toBe('succeeded')
  })

  it('refuses a bad configuration with one line per problem and exit status 2', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', 'eighty'],
      {
        cwd: root,
        env: { ...process.env, TALLY_DATA_DIR: join(dir, 'bad'), TALLY_CONCURRENCY: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const code = await new Promise((done) => child.once('exit', done))
    expect(code).toBe(2)
    const lines = stderr.trim().split('\n')
    expect(lines).toEqual([
      expect.stringMatching(/^tally: --port: expected an integer from 1 to 65535, got 'eighty'$/),
      expect.stringMatching(
        /^tally: TALLY_CONCURRENCY: expected an integer from 1 to 256, got '0'$/,
      ),
    ])
  })
})
