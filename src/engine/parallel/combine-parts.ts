/**
 * Worker side of a combine task: interleave the partitions' rows, each partition already in
 * output order, by their merge keys (a k-way merge by byte comparison of the keys). Reads and
 * writes stream through fixed buffers, so the output may be larger than memory.
 */
import { FileReader } from '../file-reader.js'
import { openFileWriter } from './merge-partition.js'
import type { CombineResult, CombineTask } from './protocol.js'

interface Cursor {
  keys: FileReader
  rows: FileReader
  key: Uint8Array | undefined
  rowLength: number
}

export function combineParts(task: CombineTask): CombineResult {
  const out = openFileWriter(task.outputPath)
  const cursors: Cursor[] = task.parts.map((part) => ({
    keys: new FileReader(part.keysPath, 256 * 1024),
    rows: new FileReader(part.rowsPath),
    key: undefined,
    rowLength: 0,
  }))
  try {
    out.writer.write(task.headerBytes)
    for (const cursor of cursors) advance(cursor)
    for (;;) {
      // Few partitions (one per thread): a linear scan for the smallest key beats a heap.
      let best: Cursor | undefined
      for (const cursor of cursors) {
        if (
          cursor.key !== undefined &&
          (best === undefined || compare(cursor.key, best.key!) < 0)
        ) {
          best = cursor
        }
      }
      if (best === undefined) break
      out.writer.write(best.rows.read(best.rowLength)!)
      advance(best)
    }
    return { bytes: out.writer.bytesWritten }
  } finally {
    out.close()
    for (const cursor of cursors) {
      cursor.keys.close()
      cursor.rows.close()
    }
  }
}

function advance(cursor: Cursor): void {
  const head = cursor.keys.read(8)
  if (head === undefined) {
    cursor.key = undefined
    return
  }
  const view = new DataView(head.buffer, head.byteOffset, 8)
  cursor.rowLength = view.getUint32(0, true)
  const keyLength = view.getUint32(4, true)
  // Copied: the reader's view is only valid until its next read.
  cursor.key = cursor.keys.read(keyLength)!.slice()
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!
  }
  return a.length - b.length
}
