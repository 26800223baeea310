/**
 * Starts `bullmq-worker-process.ts` (a BullMQ worker in its own process) and follows the JSON
 * lines it prints, for tests that kill workers.
 */
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { until } from '../contracts/scripted-runner.js'
import type { WorkerProcessSettings } from './bullmq-worker-process.js'
import { spawnTied } from './tied-process.js'

export type { WorkerProcessSettings } from './bullmq-worker-process.js'

export interface WorkerLine {
  event: string
  id?: string
  index?: number
}

export interface WorkerProcess {
  child: ChildProcess
  lines: WorkerLine[]
  /** Resolves once a line with this event (and job id, and part index) was printed. */
  waitFor(event: string, id?: string, index?: number): Promise<void>
  stop(): Promise<void>
}

export function startWorkerProcess(settings: WorkerProcessSettings): WorkerProcess {
  const script = fileURLToPath(new URL('./bullmq-worker-process.ts', import.meta.url))
  const child = spawnTied(process.execPath, ['--import', 'tsx', script, JSON.stringify(settings)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines: WorkerLine[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) lines.push(JSON.parse(line))
  })
  return {
    child,
    lines,
    waitFor: (event, id, index) =>
      until(
        () =>
          lines.some(
            (l) =>
              l.event === event &&
              (id === undefined || l.id === id) &&
              (index === undefined || l.index === index),
          ),
        30_000,
        `the worker process to say ${event}`,
      ),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
  }
}
