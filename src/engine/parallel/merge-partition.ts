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
import { readSpill } from '../spill.js'
import { formatDate } from '../values.js'
import type { MergeResult, MergeTask } from './protocol.js'

export function mergePartition(task: MergeTask): MergeResult {
  const { table, dictionaries } = mergeSources(task)
  const order = groupOrder(table, dictionaries, task.order)
  const rows = openFileWriter(task.rowsPath)
  const keys = task.keysPath === undefined ? undefined : openFileWriter(task.keysPath)
  try {
    if (keys === undefined) writeHeader(rows.writer, task.layout, task.totalColumn)
    const lengths = new DataView(new ArrayBuffer(8))
    for (let i = 0; i < order.length; i++) {
      const g = order[i]!
      const before = rows.writer.bytesWritten
      writeGroup(rows.writer, table, dictionaries, g)
      if (keys === undefined) continue
      const key = mergeKey(table, dictionaries, g, task.order)
      lengths.setUint32(0, rows.writer.bytesWritten - before, true)
      lengths.setUint32(4, key.length, true)
      keys.writer.write(new Uint8Array(lengths.buffer))
      keys.writer.write(key)
    }
    return { groups: table.size, bytes: rows.writer.bytesWritten }
  } finally {
    rows.close()
    keys?.close()
  }
}

function mergeSources(task: MergeTask): {
  table: GroupTable
  dictionaries: (ByteDictionary | undefined)[]
} {
  const { sources, partition, spills } = task
  const width = task.layout.groupKinds.length
  if (sources.length === 1 && spills.length === 0) {
    const only = sources[0]!
    return {
      table: GroupTable.fromSnapshot(only.tables[partition]!),
      dictionaries: only.dictionaries.map((d) => d && ByteDictionary.fromSnapshot(d)),
    }
  }
  let expected = 0
  for (const source of sources) expected = Math.max(expected, source.tables[partition]!.size)
  const table = new GroupTable(width, expected)
  const dictionaries = task.layout.groupKinds.map((k) =>
    k === 'text' ? new ByteDictionary() : undefined,
  )
  const key = new Int32Array(width)
  for (const source of sources) {
    const from = GroupTable.fromSnapshot(source.tables[partition]!)
    const fromDictionaries = source.dictionaries
    // Source id -> merged id, filled as ids are met (-1: not yet).
    const remaps = fromDictionaries.map((d) => (d ? new Int32Array(d.size).fill(-1) : undefined))
    for (let g = 0; g < from.size; g++) {
      for (let k = 0; k < width; k++) {
        const id = from.keys[g * width + k]!
        const remap = remaps[k]
        if (remap === undefined) {
          key[k] = id
          continue
        }
        let merged = remap[id]!
        if (merged === -1) {
          const d = fromDictionaries[k]!
          const start = d.offsets[id]!
          const end = start + d.lengths[id]!
          const target = dictionaries[k]!
          merged = target.find(d.arena, start, end, d.hashes[id]!)
          if (merged === -1) merged = target.insert(d.arena, start, end, d.hashes[id]!)
          remap[id] = merged
        }
        key[k] = merged
      }
      const sum = from.sums[g]!
      table.merge(
        key,
        from.hashes[g]!,
        from.firsts[g]!,
        sum,
        Number.isNaN(sum) ? from.bigSums.get(g) : undefined,
      )
    }
  }
  const isDate = task.layout.groupKinds.map((k) => k === 'date')
  for (const path of spills) {
    readSpill(path, width, isDate, (group) => {
      for (let k = 0; k < width; k++) {
        const value = group.values[k]!
        if (typeof value === 'number') {
          key[k] = value
          continue
        }
        const target = dictionaries[k]!
        const hash = hashBytes(value, 0, value.length)
        let id = target.find(value, 0, value.length, hash)
        if (id === -1) id = target.insert(value, 0, value.length, hash)
        key[k] = id
      }
      table.merge(key, group.hash, group.first, group.sum, group.bigSum)
    })
  }
  return { table, dictionaries }
}

/**
 * A byte string whose order is the output order across partitions: the first offset as 8
 * big-endian bytes (first_seen), or the values joined by NUL (sorted; values hold no NUL).
 */
function mergeKey(
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  g: number,
  order: OutputOrder,
): Uint8Array {
  if (order === 'first_seen') {
    const key = new Uint8Array(8)
    new DataView(key.buffer).setFloat64(0, table.firsts[g]!)
    return key
  }
  const parts: Uint8Array[] = []
  const width = table.width
  for (let k = 0; k < width; k++) {
    const id = table.keys[g * width + k]!
    const dictionary = dictionaries[k]
    parts.push(dictionary ? dictionary.bytes(id) : textEncoder.encode(formatDate(id)))
  }
  let length = parts.length - 1
  for (const p of parts) length += p.length
  const key = new Uint8Array(length)
  let at = 0
  parts.forEach((p, i) => {
    if (i > 0) key[at++] = 0
    key.set(p, at)
    at += p.length
  })
  return key
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
