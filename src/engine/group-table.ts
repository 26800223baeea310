/**
 * The groups: an open-addressing hash table keyed by a tuple of `width` 32-bit integers (one per
 * group column: a dictionary id for text, a date code for dates).
 *
 * Layout: group `g` owns `keys[g * width .. g * width + width)`, `hashes[g]` (a hash of the
 * column *values*, independent of dictionary ids, so it also picks a group's partition when
 * tables from several threads are merged), `sums[g]` and `firsts[g]` (the byte offset of the
 * row where the group first appeared). `slots` holds `g + 1`, 0 for empty, load factor at most
 * 1/2. Sums are doubles while exact; a sum that would pass 2^53 - 1 moves to `bigSums` and its
 * double becomes NaN, so the common path is one add and one compare.
 */
import { sharedFloat64, sharedInt32 } from './shared-memory.js'

const INITIAL_GROUPS = 4096

export class GroupTable {
  readonly width: number
  keys: Int32Array
  hashes: Int32Array
  sums: Float64Array
  firsts: Float64Array
  slots: Int32Array
  mask: number
  size = 0
  readonly bigSums = new Map<number, bigint>()

  constructor(width: number, initialGroups = INITIAL_GROUPS) {
    this.width = width
    let capacity = 16
    while (capacity < initialGroups) capacity *= 2
    this.keys = sharedInt32(capacity * width)
    this.hashes = sharedInt32(capacity)
    this.sums = sharedFloat64(capacity)
    this.firsts = sharedFloat64(capacity)
    this.slots = new Int32Array(capacity * 2)
    this.mask = capacity * 2 - 1
  }

  /** The group with key `key[0..width)`, inserted with sum 0 when new (first seen at `offset`). */
  findOrInsert(key: Int32Array, hash: number, offset: number): number {
    const width = this.width
    const keys = this.keys
    const slots = this.slots
    const mask = this.mask
    let slot = hash & mask
    for (;;) {
      const gPlus1 = slots[slot]!
      if (gPlus1 === 0) break
      const g = gPlus1 - 1
      if (this.hashes[g] === hash) {
        const base = g * width
        let i = 0
        while (i < width && keys[base + i] === key[i]) i++
        if (i === width) return g
      }
      slot = (slot + 1) & mask
    }
    if (this.size === this.hashes.length) {
      this.grow()
      return this.findOrInsert(key, hash, offset)
    }
    const g = this.size++
    this.keys.set(key.subarray(0, width), g * width)
    this.hashes[g] = hash
    this.sums[g] = 0
    this.firsts[g] = offset
    slots[slot] = g + 1
    return g
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
    const g = this.findOrInsert(key, hash, first)
    if (this.size === before && first < this.firsts[g]!) this.firsts[g] = first
    if (Number.isNaN(sum)) this.addBig(g, bigSum!)
    else this.add(g, sum)
  }

  /** A read-only view of another thread's table: only for reading groups out, not for lookups. */
  static fromSnapshot(snapshot: GroupTableSnapshot): GroupTable {
    const table = new GroupTable(snapshot.width, 16)
    table.keys = snapshot.keys
    table.hashes = snapshot.hashes
    table.sums = snapshot.sums
    table.firsts = snapshot.firsts
    table.size = snapshot.size
    for (const [g, sum] of snapshot.bigSums) table.bigSums.set(g, BigInt(sum))
    return table
  }

  /** The plain-data view another thread needs to merge this table (shared, not copied). */
  snapshot(): GroupTableSnapshot {
    return {
      width: this.width,
      keys: this.keys,
      hashes: this.hashes,
      sums: this.sums,
      firsts: this.firsts,
      size: this.size,
      bigSums: [...this.bigSums].map(([g, sum]) => [g, sum.toString()]),
    }
  }

  add(g: number, value: number): void {
    const sum = this.sums[g]! + value
    if (sum <= Number.MAX_SAFE_INTEGER) this.sums[g] = sum
    else this.addBig(g, BigInt(value))
  }

  addBig(g: number, value: bigint): void {
    const current = this.sums[g]!
    const base = Number.isNaN(current) ? this.bigSums.get(g)! : BigInt(current)
    const sum = base + value
    if (sum <= BigInt(Number.MAX_SAFE_INTEGER)) {
      this.sums[g] = Number(sum)
      this.bigSums.delete(g)
    } else {
      this.sums[g] = Number.NaN
      this.bigSums.set(g, sum)
    }
  }

  /** The exact total of group `g` as decimal text. */
  sumText(g: number): string {
    const sum = this.sums[g]!
    return Number.isNaN(sum) ? this.bigSums.get(g)!.toString() : String(sum)
  }

  sumBig(g: number): bigint {
    const sum = this.sums[g]!
    return Number.isNaN(sum) ? this.bigSums.get(g)! : BigInt(sum)
  }

  /** Bytes held, for the memory budget. */
  get byteSize(): number {
    return this.hashes.length * (4 * this.width + 4 + 16) + this.slots.length * 4
  }

  private grow(): void {
    const capacity = this.hashes.length * 2
    const keys = sharedInt32(capacity * this.width)
    keys.set(this.keys)
    const hashes = sharedInt32(capacity)
    hashes.set(this.hashes)
    const sums = sharedFloat64(capacity)
    sums.set(this.sums)
    const firsts = sharedFloat64(capacity)
    firsts.set(this.firsts)
    this.keys = keys
    this.hashes = hashes
    this.sums = sums
    this.firsts = firsts
    const slots = new Int32Array(capacity * 2)
    const mask = slots.length - 1
    for (let g = 0; g < this.size; g++) {
      let slot = hashes[g]! & mask
      while (slots[slot] !== 0) slot = (slot + 1) & mask
      slots[slot] = g + 1
    }
    this.slots = slots
    this.mask = mask
  }
}

export interface GroupTableSnapshot {
  width: number
  keys: Int32Array
  hashes: Int32Array
  sums: Float64Array
  firsts: Float64Array
  size: number
  /** Groups whose sum passed 2^53 - 1, as decimal text. */
  bigSums: [number, string][]
}
