/**
 * A fixed set of worker threads, each running one task at a time. Canceling terminates the
 * threads, which stops a synchronous parse loop at once.
 */
import { Worker } from 'node:worker_threads'
import { EngineError } from '../errors.js'
import type { FromWorker, ProgressMessage, SerializedError, Task, ToWorker } from './protocol.js'

const fromSource = import.meta.url.endsWith('.ts')
const entry = new URL(`./worker-entry.${fromSource ? 'ts' : 'js'}`, import.meta.url)

/** Running from TypeScript sources (tests, `tsx`), the thread must load tsx's hooks first. */
function startWorker(): Worker {
  if (!fromSource) return new Worker(entry, { execArgv: withoutTsx(process.execArgv) })
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(bootstrap, { eval: true })
}

/**
 * A built thread needs no TypeScript loader, even when the process was started with one (a
 * script run by tsx that imports the built engine): each thread would pay for loading it.
 */
function withoutTsx(args: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if ((arg === '--import' || arg === '--loader') && args[i + 1]?.startsWith('tsx')) i++
    else if (!/^--(import|loader)=tsx/.test(arg)) kept.push(arg)
  }
  return kept
}

interface Pending {
  resolve: (result: unknown) => void
  reject: (error: Error) => void
  onProgress: ((message: ProgressMessage) => void) | undefined
}

export class ThreadPool {
  private readonly workers: Worker[] = []
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private closed = false

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const worker = startWorker()
      worker.on('message', (message: FromWorker) => this.receive(message))
      worker.on('error', (error) => this.failAll(error))
      worker.on('exit', (code) => {
        if (!this.closed) this.failAll(new Error(`worker thread exited with code ${code}`))
      })
      this.workers.push(worker)
    }
  }

  run<R>(worker: number, task: Task, onProgress?: (message: ProgressMessage) => void): Promise<R> {
    const id = this.nextId++
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, onProgress })
      this.workers[worker]!.postMessage({ ...task, id } as ToWorker)
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all(this.workers.map((w) => w.terminate()))
    this.failAll(new Error('thread pool closed'))
  }

  private receive(message: FromWorker): void {
    const pending = this.pending.get(message.id)
    if (!pending) return
    if (message.type === 'progress') {
      pending.onProgress?.(message)
      return
    }
    this.pending.delete(message.id)
    if (message.type === 'done') pending.resolve(message.result)
    else pending.reject(deserializeError(message.error))
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error)
    this.pending.clear()
  }
}

export function deserializeError(error: SerializedError): Error {
  if (error.kind === 'engine') return EngineError.fromJSON(error)
  const e = new Error(error.message)
  e.stack = error.stack
  return e
}
