/**
 * Worker side of a write task: the rows of every thread's merged groups (each thread's already
 * in output order, see merge-partition.ts) whose merge keys fall in a range, interleaved through
 * a heap and written where they belong in the output file. The threads write adjacent ranges at
 * once; a range's place is the header plus the bytes of every row before it, known from the
 * shares' samples without formatting those rows.
 */
import { ByteDictionary } from '../dictionary.js'
import { GroupTable } from '../group-table.js'
import { groupRowBytes, writeGroup } from '../output.js'
import { heapify, siftDown } from './heap.js'
import { compareKeys, mergeKeyOf, SAMPLE_EVERY } from './merge-key.js'
import { openFileWriter } from './merge-partition.js'
import type { MergedShare, WriteResult, WriteTask } from './protocol.js'

/** One thread's merged groups, read from `at` up to `end`. */
interface Cursor {
  tables: GroupTable[]
  dictionaries: (ByteDictionary | undefined)[]
  refs: Uint32Array
  at: number
  end: number
  /** The group at `at`. */
  table: GroupTable
  g: number
  first: number
}

export function writeMerged(task: WriteTask): WriteResult {
  const byFirst = task.order === 'first_seen'
  let position = task.headerBytes.length
  const cursors = task.shares.map((share) => {
    const cursor = openShare(share)
    cursor.at = task.from ? firstAtOrAfter(cursor, task.from, task.order) : 0
    cursor.end = task.to ? firstAtOrAfter(cursor, task.to, task.order) : share.refs.length
    position += rowBytesBefore(cursor, share)
    return cursor
  })
  const out = openFileWriter(task.outputPath, task.from ? position : 0)
  try {
    if (!task.from) out.writer.write(task.headerBytes)
    const heap = cursors.filter((c) => c.at < c.end)
    for (const cursor of heap) load(cursor)
    const less = byFirst ? (a: Cursor, b: Cursor) => a.first < b.first : valuesLess
    heapify(heap, less)
    while (heap.length > 0) {
      const best = heap[0]!
      writeGroup(out.writer, best.table, best.dictionaries, best.g, task.escapeFormulas)
      if (++best.at < best.end) load(best)
      else {
        heap[0] = heap[heap.length - 1]!
        heap.pop()
      }
      siftDown(heap, 0, less)
    }
    return { bytes: out.writer.bytesWritten }
  } finally {
    out.close()
  }
}

function openShare(share: MergedShare): Cursor {
  const tables = share.tables.map((t) => GroupTable.fromSnapshot(t))
  return {
    tables,
    dictionaries: share.dictionaries.map((layers) => layers && ByteDictionary.fromLayers(layers)),
    refs: share.refs,
    at: 0,
    end: 0,
    table: tables[0]!,
    g: 0,
    first: 0,
  }
}

function load(cursor: Cursor): void {
  const ref = cursor.refs[cursor.at]!
  cursor.table = cursor.tables[ref >>> 24]!
  cursor.g = ref & 0xffffff
  cursor.first = cursor.table.firsts[cursor.g]!
}

/** The first position of the cursor's groups whose merge key is `key` or after (binary search). */
function firstAtOrAfter(cursor: Cursor, key: Uint8Array, order: WriteTask['order']): number {
  let low = 0
  let high = cursor.refs.length
  while (low < high) {
    const mid = (low + high) >>> 1
    const ref = cursor.refs[mid]!
    const table = cursor.tables[ref >>> 24]!
    const midKey = mergeKeyOf(table, cursor.dictionaries, ref & 0xffffff, order)
    if (compareKeys(midKey, key) < 0) low = mid + 1
    else high = mid
  }
  return low
}

/** The bytes of the cursor's rows before `at`: from the sample at or before it, then counted. */
function rowBytesBefore(cursor: Cursor, share: MergedShare): number {
  if (cursor.at === 0) return 0
  const sample = Math.floor(cursor.at / SAMPLE_EVERY)
  let bytes = share.samples[sample]!.rowBytesBefore
  for (let i = sample * SAMPLE_EVERY; i < cursor.at; i++) {
    const ref = cursor.refs[i]!
    bytes += groupRowBytes(cursor.tables[ref >>> 24]!, ref & 0xffffff, share.fieldBytes)
  }
  return bytes
}

/**
 * Sorted order: the values compared column by column, text as bytes (a prefix first), dates by
 * their codes (which order as their `YYYY-MM-DD` text does): the order of the merge keys.
 */
function valuesLess(a: Cursor, b: Cursor): boolean {
  const width = a.table.width
  for (let k = 0; k < width; k++) {
    const x = a.table.keyOf(a.g, k)
    const y = b.table.keyOf(b.g, k)
    const dx = a.dictionaries[k]
    const dy = b.dictionaries[k]
    if (dx === undefined || dy === undefined) {
      if (x !== y) return x < y
      continue
    }
    const xs = dx.arenaOf(x)
    const ys = dy.arenaOf(y)
    const xAt = dx.offsetOf(x)
    const yAt = dy.offsetOf(y)
    const xn = dx.lengthOf(x)
    const yn = dy.lengthOf(y)
    const n = Math.min(xn, yn)
    for (let i = 0; i < n; i++) {
      const c = xs[xAt + i]! - ys[yAt + i]!
      if (c !== 0) return c < 0
    }
    if (xn !== yn) return xn < yn
  }
  return false
}
