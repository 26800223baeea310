/**
 * Worker side of a merge task: fold one partition of every range's groups into one table, then
 * write its rows in output order. Each thread merges a different partition, so merging and
 * writing run in parallel; the partitions are then interleaved by `combineParts`.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { hashBytes, textEncoder } from '../bytes.js'
import { ByteDictionary } from '../dictionary.js'
import { GroupTable } from '../group-table.js'
import { groupOrder } from '../order.js'
import { ByteWriter, writeGroup, writeHeader } from '../output.js'
import type { OutputOrder } from '../spec.js'
import { readSpill, type SpilledGroup } from '../spill.js'
import { formatDate } from '../values.js'
import type { MergeResult, MergeTask } from './protocol.js'

export function mergePartition(task: MergeTask): MergeResult {
  const { table, dictionaries } = mergeSources(task)
  const order = groupOrder(table, dictionaries, task.order)
  const rows = openFileWriter(task.rowsPath)
  const keys = task.keysPath === undefined ? undefined : openFileWriter(task.keysPath)
  try {
    if (keys === undefined) writeHeader(rows.writer, task.layout, task.totalColumn)
    for (let i = 0; i < order.length; i++) {
      const g = order[i]!
      const before = rows.writer.bytesWritten
      writeGroup(rows.writer, table, dictionaries, g)
      if (keys !== undefined) {
        writeMergeKey(
          keys.writer,
          rows.writer.bytesWritten - before,
          table,
          dictionaries,
          g,
          task.order,
        )
      }
    }
    return { groups: table.size, bytes: rows.writer.bytesWritten }
  } finally {
    rows.close()
    keys?.close()
  }
}

/** The partitions this worker owns: `worker`, `worker + threads`, ... */
function ownedPartitions(task: MergeTask): number[] {
  const owned: number[] = []
  for (let p = task.worker; p < task.partitions; p += task.threads) owned.push(p)
  return owned
}

/**
 * Folds this worker's partitions of every source into one table. Each partition is merged in a
 * small table of its own (it stays in cache), then appended to the result.
 */
function mergeSources(task: MergeTask): {
  table: GroupTable
  dictionaries: (ByteDictionary | undefined)[]
} {
  const { sources } = task
  const width = task.layout.groupKinds.length
  const owned = ownedPartitions(task)
  const spilled = owned.some((p) => (task.spills[p]?.length ?? 0) > 0)
  let largest = 0
  for (const source of sources) {
    let size = 0
    for (const p of owned) size += source.tables[p]!.size
    largest = Math.max(largest, size)
  }
  const out = new GroupTable(width, largest)
  if (sources.length === 1 && !spilled) {
    // One range: its groups are already distinct; no lookup, no new dictionary.
    const only = sources[0]!
    for (const p of owned) {
      const from = GroupTable.fromSnapshot(only.tables[p]!)
      for (let g = 0; g < from.size; g++) out.append(from, g)
    }
    return {
      table: out,
      dictionaries: only.dictionaries.map((d) => d && ByteDictionary.fromSnapshot(d)),
    }
  }
  const dictionaries = task.layout.groupKinds.map((k) =>
    k === 'text' ? new ByteDictionary() : undefined,
  )
  const folder = new GroupFolder(width, dictionaries)
  const isDate = task.layout.groupKinds.map((k) => k === 'date')
  const fromDictionaries = sources.map((source) =>
    source.dictionaries.map((d) => d && ByteDictionary.fromSnapshot(d)),
  )
  // Source id -> merged id, per source and column, filled as ids are met (-1: not yet).
  const remaps = fromDictionaries.map((ds) =>
    ds.map((d) => (d ? new Int32Array(d.size).fill(-1) : undefined)),
  )
  for (const p of owned) {
    let expected = 0
    for (const source of sources) expected = Math.max(expected, source.tables[p]!.size)
    const partition = new GroupTable(width, expected)
    sources.forEach((source, s) => {
      folder.foldTable(
        partition,
        GroupTable.fromSnapshot(source.tables[p]!),
        fromDictionaries[s]!,
        remaps[s]!,
      )
    })
    for (const path of task.spills[p] ?? []) {
      readSpill(path, width, isDate, (group) => folder.foldSpilled(partition, group))
    }
    for (let g = 0; g < partition.size; g++) out.append(partition, g)
  }
  return { table: out, dictionaries }
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
          merged = this.intern(k, d.arena, start, start + d.lengthOf(id), d.hashOf(id))
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
 * the values joined by NUL (sorted; values hold no NUL).
 */
function writeMergeKey(
  out: ByteWriter,
  rowLength: number,
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  g: number,
  order: OutputOrder,
): void {
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
        buf.set(dictionary.arena.subarray(start, start + length), at)
        at += length
      } else {
        buf.set(textEncoder.encode(formatDate(id)), at)
        at += 10
      }
    }
  }
  out.advance(8 + keyLength)
}

export function openFileWriter(path: string): { writer: ByteWriter; close: () => void } {
  const fd = openSync(path, 'w')
  const writer = new ByteWriter((chunk) => {
    let at = 0
    while (at < chunk.length) at += writeSync(fd, chunk, at, chunk.length - at)
  })
  return {
    writer,
    close: () => {
      writer.flush()
      closeSync(fd)
    },
  }
}
