/**
 * Worker side of a merge task: fold this thread's share of the partitions of every range's
 * groups, then write them in output order. Each thread merges different partitions, so merging
 * and writing run in parallel; the threads' runs are then interleaved by `combineParts`.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { hashBytes, textEncoder } from '../bytes.js'
import { ByteDictionary } from '../dictionary.js'
import { GroupTable } from '../group-table.js'
import { groupOrderAcross } from '../order.js'
import { ByteWriter, writeGroup, writeHeader } from '../output.js'
import type { OutputOrder } from '../spec.js'
import { readSpill, type SpilledGroup } from '../spill.js'
import { formatDate } from '../values.js'
import { collectGarbageOver } from './garbage.js'
import { tableOf } from './part-file.js'
import type { MergeResult, MergeTask, RunSample, SortedRun } from './protocol.js'

/** Rows between two samples of a sorted run. */
const SAMPLE_EVERY = 4096

export function mergePartition(task: MergeTask): MergeResult {
  const owned = ownedPartitions(task)
  if (!task.spilled) {
    const merged = mergeSources(task, owned)
    // The tables folded in are garbage now: free them before the order's arrays take memory.
    collectGarbageOver(arrayBytesOf(merged))
    const run = writeRun(task, task.rowsPath, task.keysPath, merged)
    return { groups: run.groups, parts: [run.part] }
  }
  // Groups spilled: one partition at a time, each written as a sorted run of its own, so
  // memory holds one partition's groups, not the thread's whole share.
  let groups = 0
  const parts: SortedRun[] = []
  for (const p of owned) {
    const merged = mergeSources(task, [p])
    // Each partition's groups become garbage once written; this memory is what the budget bounds.
    collectGarbageOver(arrayBytesOf(merged), SPILLED_MERGE_SLACK)
    const run = writeRun(task, `${task.rowsPath}-${p}`, `${task.rowsPath}-${p}.keys`, merged)
    groups += run.groups
    parts.push(run.part)
    for (const source of task.sources) source.tables[p] = null
  }
  return { groups, parts }
}

/** Garbage let grow between collections while merging spilled partitions one by one. */
const SPILLED_MERGE_SLACK = 128 << 20

/** A thread's partitions after the merge, and the dictionaries their ids refer to. */
interface MergedGroups {
  tables: GroupTable[]
  dictionaries: (ByteDictionary | undefined)[]
}

function arrayBytesOf(merged: MergedGroups): number {
  let bytes = 0
  for (const table of merged.tables) bytes += table.arrayBytes
  for (const dictionary of merged.dictionaries) bytes += dictionary?.arrayBytes ?? 0
  return bytes
}

/** Writes merged groups in output order; with `keysPath` unset, as the final output. */
function writeRun(
  task: MergeTask,
  rowsPath: string,
  keysPath: string | undefined,
  merged: MergedGroups,
): { groups: number; part: SortedRun } {
  const { tables, dictionaries } = merged
  const order = groupOrderAcross(tables, dictionaries, task.order)
  const rows = openFileWriter(rowsPath)
  const keys = keysPath === undefined ? undefined : openFileWriter(keysPath)
  const samples: RunSample[] = []
  try {
    if (keys === undefined)
      writeHeader(rows.writer, task.layout, task.totalColumn, task.escapeFormulas)
    const n = order.order.length
    for (let i = 0; i < n; i++) {
      const ref = order.refs[order.order[i]!]!
      const table = tables[ref >>> 24]!
      const g = ref & 0xffffff
      const before = rows.writer.bytesWritten
      writeGroup(rows.writer, table, dictionaries, g, task.escapeFormulas)
      if (keys !== undefined) {
        const rowLength = rows.writer.bytesWritten - before
        const keysOffset = keys.writer.bytesWritten
        const keyLength = writeMergeKey(keys.writer, rowLength, table, dictionaries, g, task.order)
        if (i % SAMPLE_EVERY === 0) {
          // The key bytes just written are still in the writer's buffer.
          const end = keys.writer.offset
          const key = keys.writer.ensure(0).slice(end - keyLength, end)
          samples.push({ key, keysOffset, rowsOffset: before })
        }
      }
    }
    return { groups: n, part: { rowsPath, keysPath: keysPath ?? '', samples } }
  } finally {
    rows.close()
    keys?.close()
  }
}

/** Drops this thread's references to partitions other threads merge, so they can be freed. */
function forgetOtherPartitions(task: MergeTask): void {
  for (const source of task.sources) {
    for (let p = 0; p < task.partitions; p++) {
      if (p % task.threads !== task.worker) source.tables[p] = null
    }
  }
}

/** The partitions this worker owns: `worker`, `worker + threads`, ... */
function ownedPartitions(task: MergeTask): number[] {
  const owned: number[] = []
  for (let p = task.worker; p < task.partitions; p += task.threads) owned.push(p)
  return owned
}

/**
 * Folds this worker's partitions of every range into one range's tables, adopted in place (the
 * thread that built them is done with them): that range's groups are neither copied nor looked
 * up again. It is the range this worker parsed, which holds nearly all of these partitions'
 * groups when the threads exchanged rows. Its dictionaries serve as a read-only base; values
 * they lack get new ids in dictionaries of this thread's own. Each partition is small, so it
 * stays in cache.
 */
function mergeSources(task: MergeTask, owned: number[]): MergedGroups {
  const { sources } = task
  const width = task.layout.groupKinds.length
  forgetOtherPartitions(task)
  const own = task.worker < sources.length ? task.worker : 0
  const first = sources[own]
  // No groups in memory (merging parts): start from empty tables.
  const bases = first
    ? first.dictionaries.map((d) => d && ByteDictionary.fromSnapshot(d))
    : task.layout.groupKinds.map((k) => (k === 'date' ? undefined : new ByteDictionary()))
  const tables = owned.map((p) =>
    first ? tableOf(first.tables[p]!, width) : new GroupTable(width),
  )
  const spilled = owned.some((p) => (task.spills[p]?.length ?? 0) > 0)
  const othersHold = sources.some((s, i) => i !== own && owned.some((p) => s.tables[p]!.size > 0))
  if (!othersHold && !spilled) {
    for (const source of sources) for (const p of owned) source.tables[p] = null
    return { tables, dictionaries: bases }
  }

  const dictionaries = bases.map((base) => base && new ByteDictionary(base))
  const folder = new GroupFolder(width, dictionaries)
  const isDate = task.layout.groupKinds.map((k) => k === 'date')
  const others = sources
    .filter((_, i) => i !== own)
    .map((source) => ({
      source,
      dictionaries: source.dictionaries.map((d) => d && ByteDictionary.fromSnapshot(d)),
    }))
  // Source id -> merged id, per source and column, filled as ids are met (-1: not yet).
  const remaps = others.map((o) =>
    o.dictionaries.map((d) => (d ? new Int32Array(d.size).fill(-1) : undefined)),
  )
  owned.forEach((p, i) => {
    const into = tables[i]!
    others.forEach((other, s) => {
      const from = other.source.tables[p]!
      // Folded: this thread was the table's last user, so its memory can be collected.
      other.source.tables[p] = null
      folder.foldTable(into, tableOf(from, width, true), other.dictionaries, remaps[s]!)
    })
    for (const source of task.spills[p] ?? []) {
      readSpill(source, width, isDate, (group) => folder.foldSpilled(into, group))
    }
  })
  return { tables, dictionaries }
}

/** Adds groups from other tables or from spill files into a table, re-interning text values. */
class GroupFolder {
  private readonly key: Int32Array

  constructor(
    private readonly width: number,
    private readonly dictionaries: (ByteDictionary | undefined)[],
  ) {
    this.key = new Int32Array(width)
  }

  foldTable(
    into: GroupTable,
    from: GroupTable,
    fromDictionaries: (ByteDictionary | undefined)[],
    remaps: (Int32Array | undefined)[],
  ): void {
    const key = this.key
    for (let g = 0; g < from.size; g++) {
      for (let k = 0; k < this.width; k++) {
        const id = from.keyOf(g, k)
        const remap = remaps[k]
        if (remap === undefined) {
          key[k] = id
          continue
        }
        let merged = remap[id]!
        if (merged === -1) {
          const d = fromDictionaries[k]!
          const start = d.offsetOf(id)
          merged = this.intern(k, d.arenaOf(id), start, start + d.lengthOf(id), d.hashOf(id))
          remap[id] = merged
        }
        key[k] = merged
      }
      const sum = from.sumOf(g)
      into.merge(
        key,
        from.hashOf(g),
        from.firsts[g]!,
        sum,
        Number.isNaN(sum) ? from.bigSums.get(g) : undefined,
      )
    }
  }

  foldSpilled(into: GroupTable, group: SpilledGroup): void {
    const key = this.key
    for (let k = 0; k < this.width; k++) {
      const value = group.values[k]!
      key[k] =
        typeof value === 'number'
          ? value
          : this.intern(k, value, 0, value.length, hashBytes(value, 0, value.length))
    }
    into.merge(key, group.hash, group.first, group.sum, group.bigSum)
  }

  private intern(k: number, bytes: Uint8Array, start: number, end: number, hash: number): number {
    const dictionary = this.dictionaries[k]!
    const id = dictionary.find(bytes, start, end, hash)
    return id === -1 ? dictionary.insert(bytes, start, end, hash) : id
  }
}

const firstBytes = new Uint8Array(8)
const firstView = new DataView(firstBytes.buffer)

/**
 * Writes the merge record of a row: u32 row length, u32 key length, then a key whose byte order
 * is the output order across threads: the first offset as a big-endian double (first_seen), or
 * the values joined by NUL (sorted; values hold no NUL). Returns the key's length.
 */
function writeMergeKey(
  out: ByteWriter,
  rowLength: number,
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  g: number,
  order: OutputOrder,
): number {
  const width = table.width
  let keyLength = 8
  if (order === 'sorted') {
    keyLength = width - 1
    for (let k = 0; k < width; k++) {
      const dictionary = dictionaries[k]
      keyLength += dictionary ? dictionary.lengthOf(table.keyOf(g, k)) : 10
    }
  }
  const buf = out.ensure(8 + keyLength)
  let at = out.offset
  for (const n of [rowLength, keyLength]) {
    buf[at++] = n & 0xff
    buf[at++] = (n >>> 8) & 0xff
    buf[at++] = (n >>> 16) & 0xff
    buf[at++] = n >>> 24
  }
  if (order === 'first_seen') {
    firstView.setFloat64(0, table.firsts[g]!)
    buf.set(firstBytes, at)
  } else {
    for (let k = 0; k < width; k++) {
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
  out.advance(8 + keyLength)
  return keyLength
}

/**
 * A buffered writer to a new file, or, given `position`, into an existing file from there on
 * (other threads writing other pieces of it).
 */
export function openFileWriter(
  path: string,
  position?: number,
): { writer: ByteWriter; close: () => void } {
  const fd = openSync(path, position === undefined ? 'w' : 'r+')
  let next = position ?? null
  const writer = new ByteWriter((chunk) => {
    let at = 0
    while (at < chunk.length) {
      const n = writeSync(fd, chunk, at, chunk.length - at, next)
      at += n
      if (next !== null) next += n
    }
  })
  return {
    writer,
    close: () => {
      writer.flush()
      closeSync(fd)
    },
  }
}
