/**
 * Interns byte strings (the distinct values of one text column) as small integer ids.
 *
 * Layout: the bytes of every value sit back to back in `arena`; `records[id * 3 ..]` holds
 * [hash, offset in arena, length], together so a lookup touches one line for them. `slots` is
 * an open-addressing table (linear probing, power-of-two size, load factor at most 1/2) holding
 * `id + 1`, 0 for an empty slot. No JavaScript string or object exists per value until output.
 *
 * A dictionary may extend a read-only `base` (another thread's, when merging): ids below
 * `base.size` are the base's, and values it lacks get ids from `base.size` up.
 */
import { sharedInt32, sharedUint8 } from './shared-memory.js'

const INITIAL_IDS = 1024

export class ByteDictionary {
  arena: Uint8Array = sharedUint8(64 * 1024)
  arenaUsed = 0
  records: Int32Array = sharedInt32(INITIAL_IDS * 3)
  slots: Int32Array = sharedInt32(INITIAL_IDS * 2)
  mask = INITIAL_IDS * 2 - 1
  /** Values of this dictionary itself, without the base's. */
  ownSize = 0
  private readonly base: ByteDictionary | undefined
  private readonly baseSize: number

  constructor(base?: ByteDictionary) {
    this.base = base
    this.baseSize = base?.size ?? 0
  }

  /** Every id: the base's and this dictionary's own. */
  get size(): number {
    return this.baseSize + this.ownSize
  }

  /** The id of the value `buf[start, end)` with hash `hash`, or -1 when absent. */
  find(buf: Uint8Array, start: number, end: number, hash: number): number {
    if (this.base !== undefined) {
      const id = this.base.find(buf, start, end, hash)
      if (id !== -1) return id
    }
    const len = end - start
    const slots = this.slots
    const records = this.records
    const mask = this.mask
    let slot = hash & mask
    for (;;) {
      const idPlus1 = slots[slot]!
      if (idPlus1 === 0) return -1
      const base = (idPlus1 - 1) * 3
      if (records[base] === hash && records[base + 2] === len) {
        const arena = this.arena
        let at = records[base + 1]!
        let i = start
        while (i < end && arena[at] === buf[i]) {
          at++
          i++
        }
        if (i === end) return this.baseSize + idPlus1 - 1
      }
      slot = (slot + 1) & mask
    }
  }

  /** Adds a value known to be absent and returns its id. */
  insert(buf: Uint8Array, start: number, end: number, hash: number): number {
    const len = end - start
    if (this.ownSize * 2 >= this.slots.length) this.growSlots()
    if ((this.ownSize + 1) * 3 > this.records.length) this.growRecords()
    if (this.arenaUsed + len > this.arena.length) this.growArena(len)
    const id = this.ownSize++
    this.arena.set(buf.subarray(start, end), this.arenaUsed)
    const base = id * 3
    this.records[base] = hash
    this.records[base + 1] = this.arenaUsed
    this.records[base + 2] = len
    this.arenaUsed += len
    let slot = hash & this.mask
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask
    this.slots[slot] = id + 1
    return this.baseSize + id
  }

  /** Forgets every value but keeps the memory, so a spill leaves no garbage behind. */
  clear(): void {
    this.slots.fill(0)
    this.ownSize = 0
    this.arenaUsed = 0
  }

  hashOf(id: number): number {
    if (id < this.baseSize) return this.base!.hashOf(id)
    return this.records[(id - this.baseSize) * 3]!
  }

  /** The arena holding value `id` (the base's for a base id). */
  arenaOf(id: number): Uint8Array {
    return id < this.baseSize ? this.base!.arena : this.arena
  }

  offsetOf(id: number): number {
    if (id < this.baseSize) return this.base!.offsetOf(id)
    return this.records[(id - this.baseSize) * 3 + 1]!
  }

  lengthOf(id: number): number {
    if (id < this.baseSize) return this.base!.lengthOf(id)
    return this.records[(id - this.baseSize) * 3 + 2]!
  }

  bytes(id: number): Uint8Array {
    const at = this.offsetOf(id)
    return this.arenaOf(id).subarray(at, at + this.lengthOf(id))
  }

  /** A read-only view of another thread's dictionary: `find` works, `insert` must not be used. */
  static fromSnapshot(snapshot: DictionarySnapshot): ByteDictionary {
    return ByteDictionary.fromLayers([snapshot])
  }

  /** A read-only view of another thread's layered dictionary, from its `layers()`. */
  static fromLayers(layers: readonly DictionarySnapshot[]): ByteDictionary {
    let dictionary: ByteDictionary | undefined
    for (const layer of layers) {
      const top: ByteDictionary = new ByteDictionary(dictionary)
      top.arena = layer.arena
      top.records = layer.records
      top.slots = layer.slots
      top.mask = layer.slots.length - 1
      top.ownSize = layer.size
      top.arenaUsed = -1
      dictionary = top
    }
    if (dictionary === undefined) throw new Error('a dictionary has at least one layer')
    return dictionary
  }

  /**
   * A dictionary of `size` values from their records and arena bytes alone (as a part file
   * holds them): the slots are rebuilt.
   */
  static fromValues(
    size: number,
    arenaBytes: number,
    fill: (records: Int32Array, arena: Uint8Array) => void,
  ): ByteDictionary {
    const dictionary = new ByteDictionary()
    dictionary.records = sharedInt32(Math.max(INITIAL_IDS, size) * 3)
    dictionary.arena = sharedUint8(Math.max(64 * 1024, arenaBytes))
    fill(dictionary.records.subarray(0, size * 3), dictionary.arena.subarray(0, arenaBytes))
    dictionary.ownSize = size
    dictionary.arenaUsed = arenaBytes
    let slots = INITIAL_IDS * 2
    while (slots <= size * 2) slots *= 2
    dictionary.slots = sharedInt32(slots / 2)
    dictionary.growSlots()
    return dictionary
  }

  /** Bytes of the arena in use (the values are written back to back). */
  get arenaEnd(): number {
    if (this.ownSize === 0) return 0
    const last = (this.ownSize - 1) * 3
    return this.records[last + 1]! + this.records[last + 2]!
  }

  /** The plain-data view another thread needs to read the values (shared, not copied). */
  snapshot(): DictionarySnapshot {
    if (this.base !== undefined) throw new Error('a layered dictionary has no snapshot')
    return this.ownLayer()
  }

  /** The snapshots of this dictionary and the bases under it, deepest first (`fromLayers`). */
  layers(): DictionarySnapshot[] {
    return [...(this.base?.layers() ?? []), this.ownLayer()]
  }

  private ownLayer(): DictionarySnapshot {
    return { arena: this.arena, records: this.records, slots: this.slots, size: this.ownSize }
  }

  /** Bytes of the arrays themselves, free room included (not the base's). */
  get arrayBytes(): number {
    return this.arena.byteLength + this.records.byteLength + this.slots.byteLength
  }

  /** Bytes held, for the memory budget. */
  get byteSize(): number {
    // Twice what the values take, as for the group table: arrays double when full.
    return 2 * (this.arenaUsed + this.ownSize * (12 + 8))
  }

  private growRecords(): void {
    const records = sharedInt32(this.records.length * 2)
    records.set(this.records)
    this.records = records
  }

  private growArena(needed: number): void {
    let capacity = this.arena.length * 2
    while (capacity < this.arenaUsed + needed) capacity *= 2
    const arena = sharedUint8(capacity)
    arena.set(this.arena.subarray(0, this.arenaUsed))
    this.arena = arena
  }

  private growSlots(): void {
    const slots = sharedInt32(this.slots.length * 2)
    const mask = slots.length - 1
    for (let id = 0; id < this.ownSize; id++) {
      let slot = this.records[id * 3]! & mask
      while (slots[slot] !== 0) slot = (slot + 1) & mask
      slots[slot] = id + 1
    }
    this.slots = slots
    this.mask = mask
  }
}

export interface DictionarySnapshot {
  arena: Uint8Array
  records: Int32Array
  slots: Int32Array
  size: number
}
