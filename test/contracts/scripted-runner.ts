/**
 * A JobRunner the test drives: each run waits until the test says how it ends. It honours the
 * abort signal like the real runner (rejects at once). Used by the backend contract, where the
 * backend's behaviour is under test, not the engine's.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { AggregateProgress } from '../../src/engine/index.js'
import type { JobRunner, RunContext } from '../../src/jobs/backend.js'
import type { Job, JobResult } from '../../src/jobs/job.js'
import type { BlobStore } from '../../src/storage/types.js'

interface Pending {
  job: Job
  context: RunContext
  resolve: (result: JobResult) => void
  reject: (error: unknown) => void
}

export class ScriptedRunner implements JobRunner {
  /** Every run started, in order (a retried job appears once per attempt). */
  readonly started: Job[] = []
  /** Signals of runs, by job id (the latest attempt). */
  readonly signals = new Map<string, AbortSignal>()
  private readonly pending = new Map<string, Pending>()

  constructor(private readonly storage: BlobStore) {}

  run(job: Job, context: RunContext): Promise<JobResult> {
    this.started.push(job)
    this.signals.set(job.id, context.signal)
    return new Promise<JobResult>((resolve, reject) => {
      const entry = { job, context, resolve, reject }
      this.pending.set(job.id, entry)
      context.signal.addEventListener('abort', () => {
        this.pending.delete(job.id)
        reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))
      })
    })
  }

  /** Job ids running right now, in start order. */
  get running(): string[] {
    return [...this.pending.keys()]
  }

  async waitUntilRunning(id: string, timeoutMs = 5000): Promise<void> {
    await until(() => this.pending.has(id), timeoutMs, `job ${id} to start running`)
  }

  progress(id: string, progress: Partial<AggregateProgress>): void {
    this.entry(id).context.onProgress({
      bytesDone: 0,
      bytesTotal: 100,
      rows: 0,
      rejected: 0,
      groups: 0,
      phase: 'reading',
      ...progress,
    })
  }

  /** Stores a result and a rejects file, as the real runner does, then resolves. */
  async succeed(id: string, overrides: Partial<JobResult> = {}): Promise<void> {
    const { job, resolve } = this.entry(id)
    const outputKey = `results/${job.id}.csv`
    const rejectsKey = `rejects/${job.id}.csv`
    await this.storage.put(outputKey, chunk('Song,Date,Total Number of Plays for Date\n'))
    await this.storage.put(rejectsKey, chunk('line,reason,raw\n'))
    this.pending.delete(id)
    resolve({
      rowsRead: 10,
      rowsRejected: 0,
      groups: 3,
      outputBytes: 41,
      rejectsBytes: 16,
      durationMs: 5,
      outputKey,
      rejectsKey,
      ...overrides,
    })
  }

  fail(id: string, error: unknown): void {
    const { reject } = this.entry(id)
    this.pending.delete(id)
    reject(error)
  }

  private entry(id: string): Pending {
    const entry = this.pending.get(id)
    if (!entry) throw new Error(`job ${id} is not running in the scripted runner`)
    return entry
  }
}

export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

function chunk(text: string): AsyncIterable<Uint8Array> {
  return (async function* () {
    yield Buffer.from(text)
  })()
}
