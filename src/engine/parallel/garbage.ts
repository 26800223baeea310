/**
 * Full garbage collections on demand, for the worker threads.
 *
 * Group tables and dictionaries double their arrays as they grow; the old arrays are external
 * memory (SharedArrayBuffer backing stores) that V8 frees only when a collection runs, and with
 * a small JavaScript heap it seldom runs: measured on H, half of a thread's array memory at
 * the end of parsing was such garbage, and the process peak was a third higher for it. V8
 * exposes `gc` only behind a flag, which a thread may set for contexts created after it.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

let gc: (() => void) | undefined

/** Runs a full collection when array memory exceeds what is held by more than `slack` bytes. */
export function collectGarbageOver(heldBytes: number, slack = 64 << 20): void {
  if (process.memoryUsage().arrayBuffers <= heldBytes + slack) return
  if (gc === undefined) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
}
