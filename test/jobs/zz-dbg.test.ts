import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'vitest'
import { createBullmqJobBackend } from '../../src/jobs/bullmq/index.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import { chunks } from '../../test/contracts/blob-store.js'
import { ScriptedRunner } from '../../test/contracts/scripted-runner.js'
import { startRedisServer } from '../../test/support/redis-server.js'
const log = (...a: unknown[]) => console.log(new Date().toISOString().slice(17, 23), ...a)
const logger = { info: (d: object, m: string) => log('INFO', m, d), warn: (d: object, m: string) => log('WARN', m, String((d as any).err?.message ?? '')), error: (d: object, m: string) => log('ERROR', m, String((d as any).err?.message ?? '')) }
it('dbg', async () => {
  const server = await startRedisServer({ appendOnly: true })
  const dir = await mkdtemp(join(tmpdir(), 'dbg-'))
  const storage = new Storage(new FsBlobStore({ root: join(dir, 'files') }))
  await storage.init()
  const worker = createBullmqJobBackend({ redisUrl: server.url, storage, concurrency: 1, queueLimit: 10, resultTtlSeconds: 60, logger })
  const runner = new ScriptedRunner(storage)
  await worker.init(); await worker.start(runner)
  const { bytes } = await storage.put('uploads/a', chunks('Song,Date,Number of Plays\nx,2020-01-01,1\n'))
  const job = await worker.submit({ input: { key: 'uploads/a', fileName: 'a.csv', bytes } })
  await runner.waitUntilRunning(job.id)
  log('kill'); await server.kill(); log('start'); await server.start(); log('started')
  await runner.succeed(job.id); log('succeeded called')
  for (let i = 0; i < 20; i++) { const t = Date.now(); const j = await worker.get(job.id); log('get', j?.status, Date.now() - t); if (j?.status === 'succeeded') break; await new Promise(r => setTimeout(r, 500)) }
  log('closing')
  const w = worker as any
  const started = w.started
  const t0 = setTimeout(() => log('still closing worker; active', started.processor.activeIds), 3000)
  await w.stop({ drain: false }); log('stopped worker')
  const c = w.connected
  await c.queueEvents.close(); log('qe closed')
  await c.queue.close(); log('queue closed')
  await c.client.quit(); log('quit'); await server.stop()
}, 60000)
