/**
 * Runs tasks for the coordinator. Knows nothing of worker_threads: messages come in through
 * `handle` and go out through the injected `send`, so tests can drive it in-process (G8).
 */
import { isEngineError } from '../errors.js'
import { combineParts } from './combine-parts.js'
import { mergePartition } from './merge-partition.js'
import { parseRange } from './parse-range.js'
import type { FromWorker, SerializedError, ToWorker } from './protocol.js'
import { writeMerged } from './write-merged.js'

export function createThreadRunner(send: (message: FromWorker) => void) {
  return function handle(message: ToWorker): void {
    const { id } = message
    try {
      switch (message.type) {
        case 'parse': {
          const result = parseRange(message.task, (bytes, rows, rejected, groups) =>
            send({ type: 'progress', id, bytes, rows, rejected, groups }),
          )
          send({ type: 'done', id, result })
          break
        }
        case 'merge':
          send({ type: 'done', id, result: mergePartition(message.task) })
          break
        case 'combine':
          send({ type: 'done', id, result: combineParts(message.task) })
          break
        case 'write':
          send({ type: 'done', id, result: writeMerged(message.task) })
          break
      }
    } catch (error) {
      send({ type: 'failed', id, error: serializeError(error) })
    }
  }
}

export function serializeError(error: unknown): SerializedError {
  if (isEngineError(error)) return { kind: 'engine', ...error.toJSON() }
  const e = error instanceof Error ? error : new Error(String(error))
  return { kind: 'internal', message: e.message, stack: e.stack }
}
