/** The order of the output rows: `first_seen` (by first appearance) or `sorted` (byte order). */
import type { ByteDictionary } from './dictionary.js'
import type { GroupTable } from './group-table.js'
import { sortByFloat, sortByUint32 } from './sort.js'
import type { OutputOrder } from './spec.js'

/**
 * Rank of each dictionary id in byte order of the values. Latin-1 decoding maps each byte to
 * one UTF-16 unit, so the engine's native string sort is a byte-order sort; values hold no NUL
 * (the aggregator rejects them), so a NUL separates the value from its id.
 */
export function dictionaryRanks(dictionary: ByteDictionary): Uint32Array {
  const n = dictionary.size
  const tagged = new Array<string>(n)
  const buffers = new Map<Uint8Array, Buffer>()
  for (let id = 0; id < n; id++) {
    const arena = dictionary.arenaOf(id)
    let buffer = buffers.get(arena)
    if (buffer === undefined) {
      buffer = Buffer.from(arena.buffer, arena.byteOffset, arena.length)
      buffers.set(arena, buffer)
    }
    const at = dictionary.offsetOf(id)
    const value = buffer.toString('latin1', at, at + dictionary.lengthOf(id))
    tagged[id] = `${value}\0${String.fromCharCode(id >>> 16, id & 0xffff)}`
  }
  tagged.sort()
  const ranks = new Uint32Array(n)
  for (let rank = 0; rank < n; rank++) {
    const s = tagged[rank]!
    const id = (s.charCodeAt(s.length - 2) << 16) | s.charCodeAt(s.length - 1)
    ranks[id] = rank
  }
  return ranks
}

export function groupOrder(
  table: GroupTable,
  dictionaries: readonly (ByteDictionary | undefined)[],
  order: OutputOrder,
): Uint32Array {
  const n = table.size
  if (order === 'first_seen') return sortByFloat(table.firsts, n)
  let result: Uint32Array = new Uint32Array(n)
  for (let i = 0; i < n; i++) result[i] = i
  const width = table.width
  const column = new Uint32Array(n)
  for (let k = width - 1; k >= 0; k--) {
    const dictionary = dictionaries[k]
    const ranks = dictionary ? dictionaryRanks(dictionary) : undefined
    for (let g = 0; g < n; g++) {
      const id = table.keyOf(g, k)
      column[g] = ranks ? ranks[id]! : id
    }
    result = sortByUint32(result, column)
  }
  return result
}

/**
 * Groups spread over several tables, in output order: the i-th group is group
 * `refs[order[i]] & 0xffffff` of table `refs[order[i]] >>> 24`.
 */
export interface GroupRefs {
  refs: Uint32Array
  order: Uint32Array
}

const GROUP_BITS = 24

/** The output order of every group of `tables` (one thread's partitions after a merge). */
export function groupOrderAcross(
  tables: readonly GroupTable[],
  dictionaries: readonly (ByteDictionary | undefined)[],
  order: OutputOrder,
): GroupRefs {
  if (tables.length > 256) throw new Error('groupOrderAcross: at most 256 tables')
  let n = 0
  for (const table of tables) {
    if (table.size >= 2 ** GROUP_BITS) throw new Error('groupOrderAcross: a table is too large')
    n += table.size
  }
  // One 32-bit word per group: table index, then group index. Kept lean: this runs while
  // every table of the thread is still in memory.
  const refs = new Uint32Array(n)
  let i = 0
  tables.forEach((table, t) => {
    for (let g = 0; g < table.size; g++) refs[i++] = ((t << GROUP_BITS) | g) >>> 0
  })
  let permutation: Uint32Array = new Uint32Array(n)
  for (let j = 0; j < n; j++) permutation[j] = j
  const column = new Uint32Array(n)
  if (order === 'first_seen') {
    // Offsets are below 2^53: sort by the low 32 bits, then (stably) by the high bits.
    for (let half = 0; half < 2; half++) {
      for (let j = 0; j < n; j++) {
        const ref = refs[j]!
        const first = tables[ref >>> GROUP_BITS]!.firsts[ref & 0xffffff]!
        column[j] = half === 0 ? first % 4294967296 : Math.floor(first / 4294967296)
      }
      permutation = sortByUint32(permutation, column)
    }
    return { refs, order: permutation }
  }
  const width = tables[0]?.width ?? 0
  for (let k = width - 1; k >= 0; k--) {
    const dictionary = dictionaries[k]
    const ranks = dictionary ? dictionaryRanks(dictionary) : undefined
    for (let j = 0; j < n; j++) {
      const ref = refs[j]!
      const id = tables[ref >>> GROUP_BITS]!.keyOf(ref & 0xffffff, k)
      column[j] = ranks ? ranks[id]! : id
    }
    permutation = sortByUint32(permutation, column)
  }
  return { refs, order: permutation }
}
