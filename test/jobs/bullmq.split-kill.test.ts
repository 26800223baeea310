/**
 * A worker killed with SIGKILL in the middle of a part of a split job: BullMQ finds the part
 * stalled, another worker runs it again, and the job succeeds once with the output of one run.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { aggregate } from '../../src/engine/index.js'
import { createBullmqJobBackend } from '../../src/jobs/bullmq/index.js'
import { isFinished } from '../../src/jobs/job.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import { readAll } from '../contracts/blob-store.js'
import { largeCsv } from '../support/large-csv.js'
import { deleteRedisKeys } from '../support/redis-keys.js'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.js'

const MIB = 1024 * 1024

let redis: RedisServer
let dir: string

beforeAll(async () => {
  redis = await startRedisServer()
  dir = await mkdtemp(join(tmpdir(), 'tally-split-kill-'))
})

afterAll(async () => {
  await redis?.stop()
  await rm(dir, { recursive: true, force: true })
})

it('a worker killed mid-part: the part runs again elsewhere, the job succeeds once, exact', async () => {
  const input = largeCsv(17, 8 * MIB)
  const inputPath = join(dir, 'plays.csv')
  await writeFile(inputPath, input)
  const expected = join(dir, 'expected.csv')
  await aggregate(inputPath, expected, { threads: 2, tempDir: dir })

  const prefix = `split-kill-${randomUUID()}`
  const storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
  await storage.init()
  const { bytes } = await storage.put('uploads/big', Readable.from([input]))
  const api = createBullmqJobBackend({
    redisUrl: redis.url,
    prefix,
    storage,
    concurrency: 1,
    queueLimit: 10,
    resultTtlSeconds: 600,
  })
  await api.init()
  const settings = {
    redisUrl: redis.url,
    prefix,
    filesRoot: join(dir, 'files'),
    lockDurationMs: 2000,
    stalledIntervalMs: 1000,
    splitBytes: 2 * MIB,
  }
  // The slow one reads at 1 MiB/s: its part (about 4 MiB) runs for seconds.
  const slow = startWorkerProcess({
    ...settings,
    tempDir: join(dir, 'work-slow'),
    readBytesPerSecond: MIB,
  })
  const fast = startWorkerProcess({ ...settings, tempDir: join(dir, 'work-fast') })
  const workers: WorkerProcess[] = [slow, fast]
  try {
    await Promise.all(workers.map((w) => w.waitFor('ready')))
    const job = await api.submit({ input: { key: 'uploads/big', fileName: 'big.csv', bytes } })
    await slow.waitFor('part-start', job.id)
    const index = slow.lines.find((l) => l.event === 'part-start')!.index!
    await new Promise((r) => setTimeout(r, 500))
    slow.child.kill('SIGKILL')
    await expect
      .poll(async () => isFinished((await api.get(job.id))?.status ?? 'queued'), {
        timeout: 60_000,
        interval: 100,
      })
      .toBe(true)
    const done = (await api.get(job.id))!
    expect(done.status).toBe('succeeded')
    const output = await readAll(await storage.get(done.result!.outputKey))
    expect(output.equals(await readFile(expected))).toBe(true)
    // The killed worker's part was run again by the other one, which also merged, once.
    expect(slow.lines.filter((l) => l.event === 'part-end' && l.index === index)).toEqual([])
    expect(fast.lines.filter((l) => l.event === 'part-end' && l.index === index)).toHaveLength(1)
    expect(fast.lines.filter((l) => l.event === 'merge-end')).toEqual([
      { event: 'merge-end', id: job.id },
    ])
    const parts: string[] = []
    for await (const key of storage.list('parts/')) parts.push(key)
    expect(parts).toEqual([])
  } finally {
    slow.child.kill('SIGKILL')
    await fast.stop()
    await api.close()
    await deleteRedisKeys(redis.url, prefix)
  }
}, 120_000)
