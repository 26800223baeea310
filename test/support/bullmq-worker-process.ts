/**
 * A BullMQ worker in its own process, for tests that kill one: the real runner and engine over
 * the fs store, run with `node --import tsx`. Settings come as one JSON argument
 * (`WorkerProcessSettings`). It prints one JSON line per happening on stdout: `ready`,
 * `run-start` and `run-end` (with `id`), with `splitBytes` also `part-start`/`part-end` (with
 * `id` and `index`) and `merge-start`/`merge-end`, and `stopped`. `startWorkerProcess` in
 * `worker-process.ts` starts one. With `readBytesPerSecond` the store reads
 * inputs no faster than that (a slow network store), so a test can kill it mid-job.
 */
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { JobRunner, SplitJobRunner } from '../../src/jobs/backend.js'
import { createBullmqJobBackend } from '../../src/jobs/bullmq/index.js'
import { EngineJobRunner } from '../../src/jobs/runner.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import type { BlobStore } from '../../src/storage/types.js'

export interface WorkerProcessSettings {
  redisUrl: string
  prefix: string
  filesRoot: string
  tempDir: string
  lockDurationMs: number
  stalledIntervalMs: number
  readBytesPerSecond?: number
  /** Split inputs larger than this across the workers (the runner's `sliceBytes`); else never. */
  splitBytes?: number
}

const settings = JSON.parse(process.argv[2]!) as WorkerProcessSettings
const say = (event: string, extra: object = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...extra })}\n`)

const fs = new FsBlobStore({ root: settings.filesRoot })
const storage = new Storage(
  settings.readBytesPerSecond ? throttled(fs, settings.readBytesPerSecond) : fs,
)
await storage.init()
const engine = new EngineJobRunner({
  storage,
  threads: 1,
  memoryMb: 64,
  tempDir: settings.tempDir,
  sliceBytes: settings.splitBytes,
})
await engine.init()
const whole: JobRunner = {
  async run(job, context) {
    say('run-start', { id: job.id })
    const result = await engine.run(job, context)
    say('run-end', { id: job.id })
    return result
  },
}
/** With `splitBytes`, the engine runner's split side too, each step said as it starts and ends. */
const runner: JobRunner | SplitJobRunner =
  settings.splitBytes === undefined
    ? whole
    : {
        ...whole,
        planParts: (job, countWorkers) => engine.planParts(job, countWorkers),
        deleteParts: (job) => engine.deleteParts(job),
        async runPart(job, part, context) {
          say('part-start', { id: job.id, index: part.index })
          await engine.runPart(job, part, context)
          say('part-end', { id: job.id, index: part.index })
        },
        async mergeParts(job, parts, context) {
          say('merge-start', { id: job.id })
          const result = await engine.mergeParts(job, parts, context)
          say('merge-end', { id: job.id })
          return result
        },
      }
const backend = createBullmqJobBackend({
  redisUrl: settings.redisUrl,
  prefix: settings.prefix,
  storage,
  concurrency: 1,
  queueLimit: 100,
  resultTtlSeconds: 3600,
  lockDurationMs: settings.lockDurationMs,
  stalledIntervalMs: settings.stalledIntervalMs,
})
await backend.init()
await backend.start(runner)
say('ready')
process.once('SIGTERM', async () => {
  await backend.stop({ drain: true })
  await backend.close()
  say('stopped')
  process.exit(0)
})

/** The store seen as a remote one whose reads trickle in at `bytesPerSecond`. */
function throttled(store: FsBlobStore, bytesPerSecond: number): BlobStore {
  return {
    init: () => store.init(),
    close: () => store.close(),
    put: (key, source, options) => store.put(key, source, options),
    stat: (key) => store.stat(key),
    delete: (key) => store.delete(key),
    list: (prefix) => store.list(prefix),
    async get(key, range) {
      const source = await store.get(key, range)
      return Readable.from(
        (async function* () {
          for await (const chunk of source as AsyncIterable<Buffer>) {
            await sleep((chunk.byteLength / bytesPerSecond) * 1000)
            yield chunk
          }
        })(),
      )
    },
  }
}
