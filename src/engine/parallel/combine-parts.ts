/**
 * Worker side of a combine task: interleave the sorted runs (one per partition, written when
 * groups spilled), each already in output order, by their merge keys (see
 * merge-key.ts), through a heap. Reads and writes stream through fixed
 * buffers, so the output may be larger than memory. A task may take only the keys in
 * `[from, to)`: then several tasks write adjacent pieces of the output file at once, each where
 * its rows belong.
 */
import { FileReader } from '../file-reader.js'
import type { ByteWriter } from '../output.js'
import { heapify, siftDown } from './heap.js'
import { firstOffsetAt } from './merge-key.js'
import { openFileWriter } from './merge-partition.js'
import type { CombineResult, CombineTask } from './protocol.js'

interface Cursor {
  keys: FileReader
  rows: FileReader
  done: boolean
  rowLength: number
  /** first_seen: the first offset. */
  first: number
  /** sorted: the key bytes, in a buffer of the cursor's own. */
  key: Uint8Array
  keyLength: number
}

export function combineParts(task: CombineTask): CombineResult {
  const byFirst = task.order === 'first_seen'
  // Read buffers share a fixed total, so hundreds of runs do not cost hundreds of MB.
  const block = Math.max(64 * 1024, Math.min(1 << 20, Math.floor((32 << 20) / task.parts.length)))
  const cursors: Cursor[] = task.parts.map((part) => ({
    keys: new FileReader(part.keysPath, block >> 2, part.keysOffset),
    rows: new FileReader(part.rowsPath, block, part.rowsOffset),
    done: false,
    rowLength: 0,
    first: 0,
    key: new Uint8Array(256),
    keyLength: 0,
  }))
  let out: ReturnType<typeof openFileWriter> | undefined
  try {
    const from = task.from && boundOf(task.from, byFirst)
    const to = task.to && boundOf(task.to, byFirst)
    const before = (cursor: Cursor, bound: Cursor) =>
      byFirst ? cursor.first < bound.first : compare(cursor, bound) < 0
    // The output bytes before this piece: the header and every run's rows before `from`.
    let position = task.headerBytes.length
    task.parts.forEach((part, i) => {
      const cursor = cursors[i]!
      position += part.rowsOffset
      advance(cursor, byFirst)
      // Rows before the range (the run was opened at a sample at or before `from`).
      while (from && !cursor.done && before(cursor, from)) {
        position += skipRow(cursor)
        advance(cursor, byFirst)
      }
    })
    out = openFileWriter(task.outputPath, from ? position : 0)
    if (!from) out.writer.write(task.headerBytes)
    const less = (a: Cursor, b: Cursor) => (byFirst ? a.first < b.first : compare(a, b) < 0)
    // A binary heap of the parts that still have rows, smallest key on top.
    const heap = cursors.filter((c) => !c.done)
    heapify(heap, less)
    while (heap.length > 0) {
      const best = heap[0]!
      if (to && !before(best, to)) break
      copyRow(best, out.writer)
      advance(best, byFirst)
      if (best.done) {
        heap[0] = heap[heap.length - 1]!
        heap.pop()
      }
      siftDown(heap, 0, less)
    }
    return { bytes: out.writer.bytesWritten }
  } finally {
    out?.close()
    for (const cursor of cursors) {
      cursor.keys.close()
      cursor.rows.close()
    }
  }
}

function readUint32(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0
}

function advance(cursor: Cursor, byFirst: boolean): void {
  const keys = cursor.keys
  if (!keys.ensure(8)) {
    cursor.done = true
    return
  }
  let buf = keys.buffer
  let at = keys.position
  cursor.rowLength = readUint32(buf, at)
  const keyLength = readUint32(buf, at + 4)
  keys.skip(8)
  keys.ensure(keyLength)
  buf = keys.buffer
  at = keys.position
  if (byFirst) {
    cursor.first = firstOffsetAt(buf, at)
  } else {
    if (cursor.key.length < keyLength) cursor.key = new Uint8Array(keyLength * 2)
    for (let i = 0; i < keyLength; i++) cursor.key[i] = buf[at + i]!
    cursor.keyLength = keyLength
  }
  keys.skip(keyLength)
}

/** A merge key as a cursor holding it, to compare cursors with. */
function boundOf(key: Uint8Array, byFirst: boolean): Cursor {
  return { key, keyLength: key.length, first: byFirst ? firstOffsetAt(key, 0) : 0 } as Cursor
}

/** Skips the cursor's row; returns its length. */
function skipRow(cursor: Cursor): number {
  cursor.rows.ensure(cursor.rowLength)
  cursor.rows.skip(cursor.rowLength)
  return cursor.rowLength
}

function copyRow(cursor: Cursor, out: ByteWriter): void {
  const rows = cursor.rows
  const n = cursor.rowLength
  rows.ensure(n)
  const from = rows.buffer
  const at = rows.position
  const to = out.ensure(n)
  const offset = out.offset
  for (let i = 0; i < n; i++) to[offset + i] = from[at + i]!
  out.advance(n)
  rows.skip(n)
}

function compare(a: Cursor, b: Cursor): number {
  const n = Math.min(a.keyLength, b.keyLength)
  const x = a.key
  const y = b.key
  for (let i = 0; i < n; i++) {
    if (x[i] !== y[i]) return x[i]! - y[i]!
  }
  return a.keyLength - b.keyLength
}
