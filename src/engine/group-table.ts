/**
 * The groups: an open-addressing hash table keyed by a tuple of `width` 32-bit integers (one per
 * group column: a dictionary id for text, a date code for dates).
 *
 * Layout, chosen so a row costs two cache misses (its slot, then its record) even with
 * millions of groups: group `g` owns the record `records[g * stride ..]` = [hash, key 0 ..
 * key width-1, sum low 32 bits, sum high bits], and `firsts[g]`, the byte offset of the row
 * where it first appeared (touched only on insert and merge). `slots` holds `g + 1`, 0 for
 * empty, load factor at most 1/2. The hash is of the column *values*, not of dictionary ids,
 * so it also picks a group's partition when tables from several threads are merged. A sum is
 * exact in its two halves up to 2^53 - 1; past that it moves to `bigSums` and its high half
 * becomes -1.
 */
import { sharedFloat64, sharedInt32 } from './shared-memory.js'

const INITIAL_GROUPS = 4096
const TWO_32 = 4294967296
const BIG = -1

export class GroupTable {
  readonly width: number
  readonly stride: number
  records: Int32Array
  firsts: Float64Array
  slots: Int32Array
  mask: number
  size = 0
  capacity: number
  readonly bigSums = new Map<number, bigint>()
  /** Rows may come in any order of their offsets (threads exchange rows): keep the earliest. */
  outOfOrder = false

  constructor(width: number, initialGroups = INITIAL_GROUPS) {
    this.width = width
    this.stride = width + 3
    let capacity = 16
    while (capacity < initialGroups) capacity *= 2
    this.capacity = capacity
    this.records = sharedInt32(capacity * this.stride)
    this.firsts = sharedFloat64(capacity)
    this.slots = sharedInt32(capacity * 2)
    this.mask = capacity * 2 - 1
  }

  /**
   * The group with key `key[at .. at + width)`, inserted with sum 0 when new (first seen at
   * `offset`; with `outOfOrder`, at `offset` or before, whichever is earlier).
   */
  findOrInsert(key: Int32Array, at: number, hash: number, offset: number): number {
    const width = this.width
    const stride = this.stride
    const records = this.records
    const slots = this.slots
    const mask = this.mask
    let slot = hash & mask
    for (;;) {
      const gPlus1 = slots[slot]!
      if (gPlus1 === 0) break
      const base = (gPlus1 - 1) * stride
      if (records[base] === hash) {
        let k = 0
        while (k < width && records[base + 1 + k] === key[at + k]) k++
        if (k === width) {
          const g = gPlus1 - 1
          if (this.outOfOrder && offset < this.firsts[g]!) this.firsts[g] = offset
          return g
        }
      }
      slot = (slot + 1) & mask
    }
    if (this.size === this.capacity) {
      this.grow()
      return this.findOrInsert(key, at, hash, offset)
    }
    const g = this.size++
    const base = g * stride
    records[base] = hash
    for (let k = 0; k < width; k++) records[base + 1 + k] = key[at + k]!
    records[base + width + 1] = 0
    records[base + width + 2] = 0
    this.firsts[g] = offset
    slots[slot] = g + 1
    return g
  }

  hashOf(g: number): number {
    return this.records[g * this.stride]!
  }

  keyOf(g: number, k: number): number {
    return this.records[g * this.stride + 1 + k]!
  }

  /** The exact sum, or NaN when it passed 2^53 - 1 (then it is in `bigSums`). */
  sumOf(g: number): number {
    const at = g * this.stride + this.width + 1
    const high = this.records[at + 1]!
    return high === BIG ? Number.NaN : high * TWO_32 + (this.records[at]! >>> 0)
  }

  add(g: number, value: number): void {
    const records = this.records
    const at = g * this.stride + this.width + 1
    const high = records[at + 1]!
    const sum = high * TWO_32 + (records[at]! >>> 0) + value
    if (high !== BIG && sum <= Number.MAX_SAFE_INTEGER) {
      const newHigh = Math.floor(sum / TWO_32)
      records[at + 1] = newHigh
      records[at] = sum - newHigh * TWO_32
    } else {
      this.addBig(g, BigInt(value))
    }
  }

  addBig(g: number, value: bigint): void {
    const current = this.sumOf(g)
    const sum = (Number.isNaN(current) ? this.bigSums.get(g)! : BigInt(current)) + value
    const at = g * this.stride + this.width + 1
    if (sum <= BigInt(Number.MAX_SAFE_INTEGER)) {
      const n = Number(sum)
      const high = Math.floor(n / TWO_32)
      this.records[at + 1] = high
      this.records[at] = n - high * TWO_32
      this.bigSums.delete(g)
    } else {
      this.records[at + 1] = BIG
      this.bigSums.set(g, sum)
    }
  }

  /**
   * Folds in a group from another table: keeps the earliest first offset, adds the sums.
   * `bigSum` is the exact sum when `sum` is NaN.
   */
  merge(
    key: Int32Array,
    hash: number,
    first: number,
    sum: number,
    bigSum: bigint | undefined,
  ): void {
    const before = this.size
    const g = this.findOrInsert(key, 0, hash, first)
    if (this.size === before && first < this.firsts[g]!) this.firsts[g] = first
    if (Number.isNaN(sum)) this.addBig(g, bigSum!)
    else this.add(g, sum)
  }

  /** Forgets every group but keeps the memory, so a spill leaves no garbage behind. */
  clear(): void {
    this.slots.fill(0)
    this.size = 0
    this.bigSums.clear()
  }

  /** The exact total of group `g` as decimal text. */
  sumText(g: number): string {
    const sum = this.sumOf(g)
    return Number.isNaN(sum) ? this.bigSums.get(g)!.toString() : String(sum)
  }

  /**
   * Another thread's table, adopted: the thread that built it no longer touches it, so this
   * one may read it or merge more groups into it.
   */
  static fromSnapshot(snapshot: GroupTableSnapshot): GroupTable {
    const table = new GroupTable(snapshot.width, 16)
    table.records = snapshot.records
    table.firsts = snapshot.firsts
    table.slots = snapshot.slots
    table.mask = snapshot.slots.length - 1
    table.size = snapshot.size
    table.capacity = snapshot.capacity
    for (const [g, sum] of snapshot.bigSums) table.bigSums.set(g, BigInt(sum))
    return table
  }

  /**
   * A table of `size` groups from their records and first offsets alone (as a part file holds
   * them): the arrays get room to grow and the slots are rebuilt. With `readOnly`, neither: the
   * table can then only be read group by group (merged into another), never looked up in.
   */
  static fromGroups(
    width: number,
    size: number,
    fill: (records: Int32Array, firsts: Float64Array) => void,
    bigSums: readonly [number, string][],
    readOnly = false,
  ): GroupTable {
    const table = new GroupTable(width, readOnly ? 16 : Math.max(16, size))
    if (readOnly) {
      table.records = sharedInt32(size * table.stride)
      table.firsts = sharedFloat64(size)
    }
    fill(table.records.subarray(0, size * table.stride), table.firsts.subarray(0, size))
    table.size = size
    if (!readOnly) table.rehash()
    for (const [g, sum] of bigSums) table.bigSums.set(g, BigInt(sum))
    return table
  }

  /** The plain-data view another thread needs to merge this table (shared, not copied). */
  snapshot(): GroupTableSnapshot {
    return {
      width: this.width,
      records: this.records,
      firsts: this.firsts,
      slots: this.slots,
      size: this.size,
      capacity: this.capacity,
      bigSums: [...this.bigSums].map(([g, sum]) => [g, sum.toString()]),
    }
  }

  /** Bytes of the arrays themselves, free room included. */
  get arrayBytes(): number {
    return this.records.byteLength + this.firsts.byteLength + this.slots.byteLength
  }

  /** Bytes held, for the memory budget. */
  get byteSize(): number {
    // What the groups held take, twice over: arrays double when full, and cleared tables keep
    // their arrays, so the groups, not the arrays, are what a budget can bound.
    return 2 * this.size * (this.stride * 4 + 8 + 8)
  }

  private grow(): void {
    const capacity = this.capacity * 2
    const records = sharedInt32(capacity * this.stride)
    records.set(this.records)
    const firsts = sharedFloat64(capacity)
    firsts.set(this.firsts)
    this.records = records
    this.firsts = firsts
    this.capacity = capacity
    this.slots = sharedInt32(capacity * 2)
    this.rehash()
  }

  /** Fills `slots` (empty, twice the capacity) from the records. */
  private rehash(): void {
    const { records, slots, stride } = this
    const mask = slots.length - 1
    for (let g = 0; g < this.size; g++) {
      let slot = records[g * stride]! & mask
      while (slots[slot] !== 0) slot = (slot + 1) & mask
      slots[slot] = g + 1
    }
    this.mask = mask
  }
}

export interface GroupTableSnapshot {
  width: number
  records: Int32Array
  firsts: Float64Array
  slots: Int32Array
  size: number
  capacity: number
  /** Groups whose sum passed 2^53 - 1, as decimal text. */
  bigSums: [number, string][]
}
