/**
 * The part file: what `aggregatePart` leaves for `mergeParts`, in one file so it can be stored
 * as one blob.
 *
 *     groups spilled past the memory budget, partition 0, 1, ... 255 (`spill.ts` records)
 *     rejected rows (`rejects-spool.ts` records, lines counted from the part's first row)
 *     the groups held in memory, per range: each text column's dictionary (its records and
 *       arena bytes), then each partition's group table (its records and first offsets)
 *     JSON trailer (the summary and where each section sits), its length (u32 LE), `TALLYPT2`
 *
 * The groups are the engine's own arrays, written as they are (only the part in use), so a
 * merge reads them back into tables and merges them as it merges threads' tables: values are
 * matched by dictionary id, not looked up again one group at a time.
 */
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs'
import type { RejectSummary } from '../aggregator.js'
import { copyFileInto } from '../copy-file.js'
import { ByteDictionary } from '../dictionary.js'
import type { SerializedEngineError } from '../errors.js'
import { GroupTable, type GroupTableSnapshot } from '../group-table.js'
import type { SpillSource } from '../spill.js'
import { PARTITIONS } from './phases.js'
import type { ParsedGroups, Section, StoredTable, StoredTableSections } from './protocol.js'

const MAGIC = 'TALLYPT2'

/** What a part holds, besides its groups and rejected rows. */
export interface PartSummary {
  /** Where its first row starts. */
  start: number
  /** Where the row after its last starts: the next part must start here. */
  endOffset: number
  bytes: number
  rows: number
  rejected: number
  /** Line ends from `start` to `endOffset`. */
  lines: number
  /** Up to three, with lines counted from the part's first row (0). */
  firstRejects: RejectSummary[]
  /** The file error met in the part (lines counted as above); null when none. */
  error: SerializedEngineError | null
}

interface StoredDictionary {
  size: number
  records: Section
  arena: Section
}

/**
 * The table of a partition: adopted when in memory, read from its part file otherwise (without
 * its slots when it will only be read: `readOnly`).
 */
export function tableOf(
  table: GroupTableSnapshot | StoredTable,
  width: number,
  readOnly = false,
): GroupTable {
  if (!('path' in table)) return GroupTable.fromSnapshot(table)
  const fd = openSync(table.path, 'r')
  try {
    return GroupTable.fromGroups(
      width,
      table.size,
      (records, firsts) => {
        readSection(fd, records, table.records)
        readSection(fd, firsts, table.firsts)
      },
      table.bigSums,
      readOnly,
    )
  } finally {
    closeSync(fd)
  }
}

function readSection(fd: number, target: Int32Array | Float64Array | Uint8Array, at: Section) {
  const [offset, bytes] = at
  const view = new Uint8Array(target.buffer, target.byteOffset, bytes)
  let done = 0
  while (done < bytes) done += readSync(fd, view, done, bytes - done, offset + done)
}

interface StoredGroups {
  dictionaries: (StoredDictionary | null)[]
  tables: StoredTableSections[]
}

interface PartTrailer extends PartSummary {
  /** Group columns: the width of the tables. */
  width: number
  /** Bytes of spilled groups per partition, from byte 0 in partition order. */
  spills: number[]
  rejects: Section
  groups: StoredGroups[]
}

export interface PartContents {
  /** Files whose bytes go in the part, per partition, as the ranges spilled them. */
  spills: string[][]
  /** The part's rejected rows, spooled (lines counted from its first row). */
  rejectsPath: string | undefined
  /** Each range's groups still in memory. */
  groups: ParsedGroups[]
  width: number
}

export function writePartFile(path: string, summary: PartSummary, contents: PartContents): void {
  const fd = openSync(path, 'w')
  let at = 0
  const append = (bytes: Uint8Array): Section => {
    const section: Section = [at, bytes.length]
    let written = 0
    while (written < bytes.length) written += writeSync(fd, bytes, written)
    at += bytes.length
    return section
  }
  const appendFile = (source: string): number => {
    const copied = copyFileInto(fd, source)
    at += copied
    return copied
  }
  try {
    const spills = Array.from({ length: PARTITIONS }, (_, p) =>
      (contents.spills[p] ?? []).reduce((n, file) => n + appendFile(file), 0),
    )
    const rejectsStart = at
    if (contents.rejectsPath !== undefined) appendFile(contents.rejectsPath)
    const rejects: Section = [rejectsStart, at - rejectsStart]
    const stride = contents.width + 3
    const groups = contents.groups.map(
      (range): StoredGroups => ({
        dictionaries: range.dictionaries.map((snapshot) => {
          if (snapshot === undefined) return null
          const dictionary = ByteDictionary.fromSnapshot(snapshot)
          return {
            size: snapshot.size,
            records: append(bytesOf(snapshot.records.subarray(0, snapshot.size * 3))),
            arena: append(snapshot.arena.subarray(0, dictionary.arenaEnd)),
          }
        }),
        tables: range.tables.map((table) => {
          if (table === null || 'path' in table) {
            throw new Error('a part is written from every partition of its ranges, in memory')
          }
          return {
            size: table.size,
            records: append(bytesOf(table.records.subarray(0, table.size * stride))),
            firsts: append(bytesOf(table.firsts.subarray(0, table.size))),
            bigSums: table.bigSums,
          }
        }),
      }),
    )
    const trailer: PartTrailer = { ...summary, width: contents.width, spills, rejects, groups }
    const json = Buffer.from(JSON.stringify(trailer))
    const tail = Buffer.alloc(4 + MAGIC.length)
    tail.writeUInt32LE(json.length, 0)
    tail.write(MAGIC, 4, 'latin1')
    append(json)
    append(tail)
  } finally {
    closeSync(fd)
  }
}

function bytesOf(view: Int32Array | Float64Array): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
}

/** A part file, as the merge needs it. */
export class PartFile {
  private constructor(
    readonly path: string,
    private readonly trailer: PartTrailer,
  ) {}

  static open(path: string): PartFile {
    const size = statSync(path).size
    const fd = openSync(path, 'r')
    try {
      const tail = Buffer.alloc(4 + MAGIC.length)
      if (size < tail.length) throw new Error(`${path} is not a part file (too short)`)
      readSync(fd, tail, 0, tail.length, size - tail.length)
      if (tail.toString('latin1', 4) !== MAGIC) {
        throw new Error(`${path} is not a part file of this version of tally`)
      }
      const length = tail.readUInt32LE(0)
      const json = Buffer.alloc(length)
      readSync(fd, json, 0, length, size - tail.length - length)
      return new PartFile(path, JSON.parse(json.toString('utf8')) as PartTrailer)
    } finally {
      closeSync(fd)
    }
  }

  get summary(): PartSummary {
    const { width: _w, spills: _s, rejects: _r, groups: _g, ...summary } = this.trailer
    return summary
  }

  /** Where each partition's spilled groups sit. */
  spillSources(): SpillSource[][] {
    let at = 0
    return this.trailer.spills.map((bytes) => {
      const sources = bytes > 0 ? [{ path: this.path, start: at, end: at + bytes }] : []
      at += bytes
      return sources
    })
  }

  get rejects(): { path: string; start: number; end: number } {
    const [start, bytes] = this.trailer.rejects
    return { path: this.path, start, end: start + bytes }
  }

  /**
   * The groups each range held in memory: the dictionaries read back, the tables left in the
   * file until a merge thread reads its partitions (one `ParsedGroups` per range).
   */
  readGroups(): ParsedGroups[] {
    const fd = openSync(this.path, 'r')
    try {
      return this.trailer.groups.map((range) => ({
        dictionaries: range.dictionaries.map((stored) =>
          stored === null
            ? undefined
            : ByteDictionary.fromValues(stored.size, stored.arena[1], (records, arena) => {
                readSection(fd, records, stored.records)
                readSection(fd, arena, stored.arena)
              }).snapshot(),
        ),
        tables: range.tables.map((stored) => ({ ...stored, path: this.path })),
      }))
    } finally {
      closeSync(fd)
    }
  }

  /** Bytes the groups take once read (the tables' records and first offsets). */
  get groupBytes(): number {
    let bytes = 0
    for (const range of this.trailer.groups) {
      for (const table of range.tables) bytes += table.records[1] + table.firsts[1]
    }
    return bytes
  }
}
