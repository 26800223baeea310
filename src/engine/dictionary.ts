/**
 * Interns byte strings (the distinct values of one text column) as small integer ids.
 *
 * Layout: the bytes of every value sit back to back in `arena`; `records[id * 3 ..]` holds
 * [hash, offset in arena, length], together so a lookup touches one line for them. `slots` is
 * an open-addressing table (linear probing, power-of-two size, load factor at most 1/2) holding
 * `id + 1`, 0 for an empty slot. No JavaScript string or object exists per value until output.
 */
import { textDecoder } from './bytes.js'
import { sharedInt32, sharedUint8 } from './shared-memory.js'

const INITIAL_IDS = 1024

export class ByteDictionary {
  arena: Uint8Array = sharedUint8(64 * 1024)
  arenaUsed = 0
  records: Int32Array = sharedInt32(INITIAL_IDS * 3)
  slots: Int32Array = new Int32Array(INITIAL_IDS * 2)
  mask = INITIAL_IDS * 2 - 1
  size = 0

  /** The id of the value `buf[start, end)` with hash `hash`, or -1 when absent. */
  find(buf: Uint8Array, start: number, end: number, hash: number): number {
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
        if (i === end) return idPlus1 - 1
      }
      slot = (slot + 1) & mask
    }
  }

  /** Adds a value known to be absent and returns its id. */
  insert(buf: Uint8Array, start: number, end: number, hash: number): number {
    const len = end - start
    if (this.size * 2 >= this.slots.length) this.growSlots()
    if ((this.size + 1) * 3 > this.records.length) this.growRecords()
    if (this.arenaUsed + len > this.arena.length) this.growArena(len)
    const id = this.size++
    this.arena.set(buf.subarray(start, end), this.arenaUsed)
    const base = id * 3
    this.records[base] = hash
    this.records[base + 1] = this.arenaUsed
    this.records[base + 2] = len
    this.arenaUsed += len
    let slot = hash & this.mask
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask
    this.slots[slot] = id + 1
    return id
  }

  hashOf(id: number): number {
    return this.records[id * 3]!
  }

  offsetOf(id: number): number {
    return this.records[id * 3 + 1]!
  }

  lengthOf(id: number): number {
    return this.records[id * 3 + 2]!
  }

  bytes(id: number): Uint8Array {
    const at = this.records[id * 3 + 1]!
    return this.arena.subarray(at, at + this.records[id * 3 + 2]!)
  }

  string(id: number): string {
    return textDecoder.decode(this.bytes(id))
  }

  /** A read-only view of another thread's dictionary: `find` and `insert` must not be used. */
  static fromSnapshot(snapshot: DictionarySnapshot): ByteDictionary {
    const dictionary = new ByteDictionary()
    dictionary.arena = snapshot.arena
    dictionary.records = snapshot.records
    dictionary.size = snapshot.size
    dictionary.arenaUsed = -1
    return dictionary
  }

  /** The plain-data view another thread needs to read the values (shared, not copied). */
  snapshot(): DictionarySnapshot {
    return { arena: this.arena, records: this.records, size: this.size }
  }

  /** Bytes held, for the memory budget. */
  get byteSize(): number {
    return this.arena.length + this.records.length * 4 + this.slots.length * 4
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
    const slots = new Int32Array(this.slots.length * 2)
    const mask = slots.length - 1
    for (let id = 0; id < this.size; id++) {
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
  size: number
}
