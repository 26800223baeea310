/**
 * `tally worker` as a user runs it: a separate process configured by the environment, taking
 * jobs an API queued in Redis, and draining on SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBullmqJobBackend } from '../../src/jobs/bullmq/index.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import { chunks, text } from '../contracts/blob-store.js'
import { DESIGN_INPUT, DESIGN_OUTPUT } from '../support/design-example.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

let redis: RedisServer
let dir: string

beforeAll(async () => {
  redis = await startRedisServer()
  dir = await mkdtemp(join(tmpdir(), 'tally-worker-command-'))
})

afterAll(async () => {
  await redis?.stop()
  await rm(dir, { recursive: true, force: true })
})

function tally(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // The logs are not under test; keep the pipe flowing.
  child.stdout!.resume()
  return child
}

async function outcome(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = ''
  child.stderr!.on('data', (data: Buffer) => {
    stderr += data.toString()
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stderr }
}

describe('tally worker', () => {
  it('refuses to start without REDIS_URL, saying why (exit status 2)', async () => {
    const { code, stderr } = await outcome(tally(['worker'], { TALLY_DATA_DIR: dir }))
    expect(code).toBe(2)
    expect(stderr).toMatch(/REDIS_URL is not set/)
  })

  it('runs the jobs an API queued, and drains on SIGTERM', async () => {
    const files = join(dir, 'files')
    const storage = new Storage(new FsBlobStore({ root: files }))
    await storage.init()
    const api = createBullmqJobBackend({
      redisUrl: redis.url,
      storage,
      concurrency: 1,
      queueLimit: 10,
      resultTtlSeconds: 60,
    })
    await api.init()
    const worker = tally(['worker', '--grace', '5'], {
      REDIS_URL: redis.url,
      TALLY_DATA_DIR: join(dir, 'data'),
      TALLY_STORAGE: pathToFileURL(files).href,
      TALLY_THREADS: '1',
      TALLY_LOG_LEVEL: 'warn',
    })
    const exited = outcome(worker)
    try {
      const { bytes } = await storage.put('uploads/in', chunks(DESIGN_INPUT))
      const job = await api.submit({ input: { key: 'uploads/in', fileName: 'in.csv', bytes } })
      await expect
        .poll(async () => (await api.get(job.id))?.status, { timeout: 30_000, interval: 50 })
        .toBe('succeeded')
      expect(await text(storage, `results/${job.id}.csv`)).toBe(DESIGN_OUTPUT)
    } finally {
      worker.kill('SIGTERM')
      await api.close()
    }
    const { code, stderr } = await exited
    expect(stderr).not.toMatch(/error/i)
    expect(code).toBe(0)
  })
})
