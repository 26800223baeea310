/**
 * Groups written to disk when they outgrow the memory budget, in a form that needs no
 * dictionary: each record carries its values. Merging reads them back, one partition at a time.
 *
 * Record (little-endian): i32 group hash, f64 first offset, f64 sum (NaN when it passed
 * 2^53 - 1: then u32 length + the decimal digits follow), then per group column: a date code as
 * i32, or a text value as u32 length + bytes.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { textDecoder, textEncoder } from './bytes.js'
import type { ByteDictionary } from './dictionary.js'
import { FileReader } from './file-reader.js'
import type { GroupTable } from './group-table.js'
import { ByteWriter } from './output.js'

/** Appends every group of `table` to the file at `path`. */
export function spillTable(
  path: string,
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
): void {
  const fd = openSync(path, 'a')
  const out = new ByteWriter((chunk) => {
    let at = 0
    while (at < chunk.length) at += writeSync(fd, chunk, at, chunk.length - at)
  })
  const head = new DataView(new ArrayBuffer(20))
  const word = new DataView(new ArrayBuffer(4))
  const width = table.width
  try {
    for (let g = 0; g < table.size; g++) {
      head.setInt32(0, table.hashOf(g), true)
      head.setFloat64(4, table.firsts[g]!, true)
      const sum = table.sumOf(g)
      head.setFloat64(12, sum, true)
      out.write(new Uint8Array(head.buffer))
      if (Number.isNaN(sum)) writeBytes(out, word, textEncoder.encode(table.sumText(g)))
      for (let k = 0; k < width; k++) {
        const id = table.keyOf(g, k)
        const dictionary = dictionaries[k]
        if (dictionary === undefined) {
          word.setInt32(0, id, true)
          out.write(new Uint8Array(word.buffer))
        } else {
          writeBytes(out, word, dictionary.bytes(id))
        }
      }
    }
    out.flush()
  } finally {
    closeSync(fd)
  }
}

function writeBytes(out: ByteWriter, word: DataView, bytes: Uint8Array): void {
  word.setUint32(0, bytes.length, true)
  out.write(new Uint8Array(word.buffer))
  out.write(bytes)
}

export interface SpilledGroup {
  hash: number
  first: number
  /** NaN when the sum is in `bigSum`. */
  sum: number
  bigSum: bigint | undefined
  /** Per group column: the date code, or the text value's bytes (valid until the next group). */
  values: (number | Uint8Array)[]
}

/** Spilled groups: a whole spill file, or the bytes `[start, end)` of a part file. */
export interface SpillSource {
  path: string
  start: number
  end: number
}

export function wholeFile(path: string): SpillSource {
  return { path, start: 0, end: Number.POSITIVE_INFINITY }
}

/** Calls `onGroup` for each spilled group (the same object, refilled each time). */
export function readSpill(
  source: SpillSource,
  width: number,
  isDate: readonly boolean[],
  onGroup: (group: SpilledGroup) => void,
): void {
  const reader = new FileReader(source.path, 1 << 20, source.start, source.end)
  const group: SpilledGroup = {
    hash: 0,
    first: 0,
    sum: 0,
    bigSum: undefined,
    values: new Array(width),
  }
  try {
    for (;;) {
      const head = reader.read(20)
      if (head === undefined) break
      const view = new DataView(head.buffer, head.byteOffset, 20)
      group.hash = view.getInt32(0, true)
      group.first = view.getFloat64(4, true)
      group.sum = view.getFloat64(12, true)
      group.bigSum = Number.isNaN(group.sum)
        ? BigInt(textDecoder.decode(readBytes(reader).slice()))
        : undefined
      for (let k = 0; k < width; k++) {
        if (isDate[k]) {
          const word = reader.read(4)!
          group.values[k] = new DataView(word.buffer, word.byteOffset, 4).getInt32(0, true)
        } else {
          group.values[k] = readBytes(reader).slice()
        }
      }
      onGroup(group)
    }
  } finally {
    reader.close()
  }
}

function readBytes(reader: FileReader): Uint8Array {
  const word = reader.read(4)!
  const length = new DataView(word.buffer, word.byteOffset, 4).getUint32(0, true)
  return reader.read(length)!
}
