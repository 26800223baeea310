/**
 * Worker side of a merge task: fold this thread's share of the partitions of every range's
 * groups and put them in output order. Each thread merges different partitions, so merging runs
 * in parallel; the write tasks then interleave every thread's groups into the output
 * (write-merged.ts). When groups spilled, each partition is merged alone and written as a sorted
 * run (memory holds one partition), and `combineParts` interleaves the runs.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { hashBytes } from '../bytes.js'
import { ByteDictionary } from '../dictionary.js'
import { GroupTable } from '../group-table.js'
import { type GroupRefs, groupOrderAcross } from '../order.js'
import { ByteWriter, dictionaryFieldBytes, groupRowBytes, writeGroup } from '../output.js'
import { sharedUint32 } from '../shared-memory.js'
import type { OutputOrder } from '../spec.js'
import { readSpill, type SpilledGroup } from '../spill.js'
import { collectGarbageOver } from './garbage.js'
import { encodeMergeKey, mergeKeyLength, mergeKeyOf, SAMPLE_EVERY } from './merge-key.js'
import { tableOf } from './part-file.js'
import type {
  MergedSample,
  MergedShare,
  MergeResult,
  MergeTask,
  RunSample,
  SortedRun,
} from './protocol.js'

export function mergePartition(task: MergeTask): MergeResult {
  const owned = ownedPartitions(task)
  if (!task.spilled) {
    const merged = mergeSources(task, owned)
    // The tables folded in are garbage now: free them before the order's arrays take memory.
    collectGarbageOver(arrayBytesOf(merged))
    const share = shareMerged(task, merged)
    return { groups: share.refs.length, merged: share, runs: [] }
  }
  // Groups spilled: one partition at a time, each written as a sorted run of its own, so
  // memory holds one partition's groups, not the thread's whole share.
  let groups = 0
  const runs: SortedRun[] = []
  for (const p of owned) {
    const merged = mergeSources(task, [p])
    // Each partition's groups become garbage once written; this memory is what the budget bounds.
    collectGarbageOver(arrayBytesOf(merged), SPILLED_MERGE_SLACK)
    const run = writeRun(task, `${task.runsPath}-${p}`, merged)
    groups += run.groups
    runs.push(run.run)
    for (const source of task.sources) source.tables[p] = null
  }
  return { groups, merged: undefined, runs }
}

/** Garbage let grow between collections while merging spilled partitions one by one. */
const SPILLED_MERGE_SLACK = 128 << 20

/** Garbage left by sorting the merged groups, past which it is collected before writing. */
const SORT_SLACK = 16 << 20

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

/** The groups in output order, as refs (`table index << 24 | group index`). */
function sortedRefs(groups: GroupRefs): Uint32Array {
  const { refs, order } = groups
  const sorted = sharedUint32(order.length)
  for (let i = 0; i < order.length; i++) sorted[i] = refs[order[i]!]!
  return sorted
}

/** The merged groups in output order, shared with the write tasks. */
function shareMerged(task: MergeTask, merged: MergedGroups): MergedShare {
  const { tables, dictionaries } = merged
  const refs = sortedRefs(groupOrderAcross(tables, dictionaries, task.order))
  // The sort's arrays are garbage now: free them before every thread's groups are written.
  collectGarbageOver(arrayBytesOf(merged) + refs.byteLength, SORT_SLACK)
  const samples: MergedSample[] = []
  let fieldBytes: (Int32Array | undefined)[] = []
  // Only write tasks starting past the first row need row lengths: with several threads.
  if (task.threads > 1) {
    fieldBytes = dictionaries.map((d) => d && dictionaryFieldBytes(d, task.escapeFormulas))
    let bytes = 0
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!
      const table = tables[ref >>> 24]!
      const g = ref & 0xffffff
      if (i % SAMPLE_EVERY === 0) {
        samples.push({ key: mergeKeyOf(table, dictionaries, g, task.order), rowBytesBefore: bytes })
      }
      bytes += groupRowBytes(table, g, fieldBytes)
    }
  }
  return {
    tables: tables.map((table) => table.snapshot()),
    dictionaries: dictionaries.map((d) => d?.layers()),
    refs,
    samples,
    fieldBytes,
  }
}

/** Writes merged groups in output order as a sorted run: rows, and their merge keys beside. */
function writeRun(
  task: MergeTask,
  rowsPath: string,
  merged: MergedGroups,
): { groups: number; run: SortedRun } {
  const { tables, dictionaries } = merged
  const refs = sortedRefs(groupOrderAcross(tables, dictionaries, task.order))
  const keysPath = `${rowsPath}.keys`
  const rows = openFileWriter(rowsPath)
  const keys = openFileWriter(keysPath)
  const samples: RunSample[] = []
  try {
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!
      const table = tables[ref >>> 24]!
      const g = ref & 0xffffff
      const before = rows.writer.bytesWritten
      writeGroup(rows.writer, table, dictionaries, g, task.escapeFormulas)
      const keysOffset = keys.writer.bytesWritten
      const key = writeMergeKey(
        keys.writer,
        rows.writer.bytesWritten - before,
        table,
        dictionaries,
        g,
        task.order,
      )
      if (i % SAMPLE_EVERY === 0) samples.push({ key: key.slice(), keysOffset, rowsOffset: before })
    }
    return { groups: refs.length, run: { rowsPath, keysPath, samples } }
  } finally {
    rows.close()
    keys.close()
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

/**
 * Writes the merge record of a row: u32 row length, u32 key length, then its merge key
 * (merge-key.ts). Returns a view of the key bytes, valid until the writer's next call.
 */
function writeMergeKey(
  out: ByteWriter,
  rowLength: number,
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  g: number,
  order: OutputOrder,
): Uint8Array {
  const keyLength = mergeKeyLength(table, dictionaries, g, order)
  const buf = out.ensure(8 + keyLength)
  let at = out.offset
  for (const n of [rowLength, keyLength]) {
    buf[at++] = n & 0xff
    buf[at++] = (n >>> 8) & 0xff
    buf[at++] = (n >>> 16) & 0xff
    buf[at++] = n >>> 24
  }
  encodeMergeKey(buf, at, table, dictionaries, g, order)
  out.advance(8 + keyLength)
  return buf.subarray(at, at + keyLength)
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
