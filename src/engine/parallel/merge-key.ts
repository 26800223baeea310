/**
 * The merge key of a group: bytes whose order is the output order across threads, so rows
 * held by different threads (or written in different runs) can be interleaved by comparing
 * bytes. `first_seen`: the first offset as a big-endian double (offsets are non-negative, so
 * their byte order is their numeric order). `sorted`: the values joined by NUL (values hold no
 * NUL, so a value that is a prefix of another sorts first, as byte order wants), dates as
 * `YYYY-MM-DD`.
 */
import { textEncoder } from '../bytes.js'
import type { ByteDictionary } from '../dictionary.js'
import type { GroupTable } from '../group-table.js'
import type { OutputOrder } from '../spec.js'
import { formatDate } from '../values.js'

/** Groups between two samples of a sorted run or of a thread's merged groups. */
export const SAMPLE_EVERY = 4096

const firstBytes = new Uint8Array(8)
const firstView = new DataView(firstBytes.buffer)

export function mergeKeyLength(
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  g: number,
  order: OutputOrder,
): number {
  if (order === 'first_seen') return 8
  const width = table.width
  let length = width - 1
  for (let k = 0; k < width; k++) {
    const dictionary = dictionaries[k]
    length += dictionary ? dictionary.lengthOf(table.keyOf(g, k)) : 10
  }
  return length
}

/** Writes group `g`'s merge key at `buf[at]` (`mergeKeyLength` bytes). */
export function encodeMergeKey(
  buf: Uint8Array,
  at: number,
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  g: number,
  order: OutputOrder,
): void {
  if (order === 'first_seen') {
    firstView.setFloat64(0, table.firsts[g]!)
    for (let i = 0; i < 8; i++) buf[at + i] = firstBytes[i]!
    return
  }
  for (let k = 0; k < table.width; k++) {
    if (k > 0) buf[at++] = 0
    const id = table.keyOf(g, k)
    const dictionary = dictionaries[k]
    if (dictionary) {
      const start = dictionary.offsetOf(id)
      const length = dictionary.lengthOf(id)
      buf.set(dictionary.arenaOf(id).subarray(start, start + length), at)
      at += length
    } else {
      buf.set(textEncoder.encode(formatDate(id)), at)
      at += 10
    }
  }
}

/** Group `g`'s merge key, in an array of its own. */
export function mergeKeyOf(
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  g: number,
  order: OutputOrder,
): Uint8Array {
  const key = new Uint8Array(mergeKeyLength(table, dictionaries, g, order))
  encodeMergeKey(key, 0, table, dictionaries, g, order)
  return key
}

/** The first offset in a first_seen merge key at `buf[at]`. */
export function firstOffsetAt(buf: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) firstBytes[i] = buf[at + i]!
  return firstView.getFloat64(0)
}

/** The order of two merge keys. */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** Merge keys cutting sorted rows into about equal ranges, one per thread (fewer if few). */
export function cutKeys(samples: Uint8Array[], threads: number): Uint8Array[] {
  const sorted = [...samples].sort(compareKeys)
  const bounds: Uint8Array[] = []
  for (let t = 1; t < threads; t++) {
    const key = sorted[Math.floor((sorted.length * t) / threads)]
    if (key && (bounds.length === 0 || compareKeys(bounds.at(-1)!, key) < 0)) bounds.push(key)
  }
  return bounds
}
