/**
 * Interns byte strings (the distinct values of one text column) as small integer ids.
 *
 * Layout: the bytes of every value sit back to back in `arena`; `offsets`, `lengths` and
 * `hashes` are indexed by id. `slots` is an open-addressing table (linear probing, power-of-two
 * size, load factor at most 1/2) holding `id + 1`, with 0 for an empty slot. No JavaScript
 * string or object exists per value until output.
 */
import { textDecoder } from './bytes.js'
import { sharedInt32, sharedUint8 } from './shared-memory.js'

const INITIAL_IDS = 1024

export class ByteDictionary {
  arena: Uint8Array = sharedUint8(64 * 1024)
  arenaUsed = 0
  offsets: Int32Array = sharedInt32(INITIAL_IDS)
  lengths: Int32Array = sharedInt32(INITIAL_IDS)
  hashes: Int32Array = sharedInt32(INITIAL_IDS)
  slots: Int32Array = new Int32Array(INITIAL_IDS * 2)
  mask = INITIAL_IDS * 2 - 1
  size = 0

  /** The id of the value `buf[start, end)` with hash `hash`, or -1 when absent. */
  find(buf: Uint8Array, start: number, end: number, hash: number): number {
    const len = end - start
    const slots = this.slots
    const mask = this.mask
    let slot = hash & mask
    for (;;) {
      const idPlus1 = slots[slot]!
      if (idPlus1 === 0) return -1
      const id = idPlus1 - 1
      if (this.hashes[id] === hash && this.lengths[id] === len) {
        const arena = this.arena
        let at = this.offsets[id]!
        let i = start
        while (i < end && arena[at] === buf[i]) {
          at++
          i++
        }
        if (i === end) return id
      }
      slot = (slot + 1) & mask
    }
  }

  /** Adds a value known to be absent and returns its id. */
  insert(buf: Uint8Array, start: number, end: number, hash: number): number {
    const len = end - start
    if (this.size * 2 >= this.slots.length) this.growSlots()
    if (this.size === this.offsets.length) this.growIds()
    if (this.arenaUsed + len > this.arena.length) this.growArena(len)
    const id = this.size++
    this.arena.set(buf.subarray(start, end), this.arenaUsed)
    this.offsets[id] = this.arenaUsed
    this.lengths[id] = len
    this.hashes[id] = hash
    this.arenaUsed += len
    let slot = hash & this.mask
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask
    this.slots[slot] = id + 1
    return id
  }

  bytes(id: number): Uint8Array {
    const at = this.offsets[id]!
    return this.arena.subarray(at, at + this.lengths[id]!)
  }

  /** A read-only view of another thread's dictionary: `find` and `insert` must not be used. */
  static fromSnapshot(snapshot: DictionarySnapshot): ByteDictionary {
    const dictionary = new ByteDictionary()
    dictionary.arena = snapshot.arena
    dictionary.offsets = snapshot.offsets
    dictionary.lengths = snapshot.lengths
    dictionary.hashes = snapshot.hashes
    dictionary.size = snapshot.size
    dictionary.arenaUsed = -1
    return dictionary
  }

  /** The plain-data view another thread needs to read the values (shared, not copied). */
  snapshot(): DictionarySnapshot {
    return {
      arena: this.arena,
      offsets: this.offsets,
      lengths: this.lengths,
      hashes: this.hashes,
      size: this.size,
    }
  }

  string(id: number): string {
    return textDecoder.decode(this.bytes(id))
  }

  /** Bytes held, for the memory budget. */
  get byteSize(): number {
    return this.arena.length + this.offsets.length * 12 + this.slots.length * 4
  }

  private growIds(): void {
    const capacity = this.offsets.length * 2
    this.offsets = grow(this.offsets, capacity)
    this.lengths = grow(this.lengths, capacity)
    this.hashes = grow(this.hashes, capacity)
  }

  private growArena(needed: number): void {
    let capacity = this.arena.length * 2
    while (capacity < this.arenaUsed + needed) capacity *= 2
    const arena = sharedUint8(capacity)
    arena.set(this.arena.subarray(0, this.arenaUsed))
    this.arena = arena
  }

  private growSlots(): void {
    const slots = new Int32Array(this.slots.length * 2)
    const mask = slots.length - 1
    for (let id = 0; id < this.size; id++) {
      let slot = this.hashes[id]! & mask
      while (slots[slot] !== 0) slot = (slot + 1) & mask
      slots[slot] = id + 1
    }
    this.slots = slots
    this.mask = mask
  }
}

function grow(array: Int32Array, capacity: number): Int32Array {
  const next = sharedInt32(capacity)
  next.set(array)
  return next
}

export interface DictionarySnapshot {
  arena: Uint8Array
  offsets: Int32Array
  lengths: Int32Array
  hashes: Int32Array
  size: number
}
