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
  const arena = Buffer.from(
    dictionary.arena.buffer,
    dictionary.arena.byteOffset,
    dictionary.arena.length,
  )
  for (let id = 0; id < n; id++) {
    const at = dictionary.offsetOf(id)
    tagged[id] =
      `${arena.toString('latin1', at, at + dictionary.lengthOf(id))}\0${String.fromCharCode(id >>> 16, id & 0xffff)}`
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
