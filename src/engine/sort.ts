/**
 * Stable LSD radix sorts of group indices by integer keys: linear time, no comparator calls,
 * which matters with millions of groups.
 */

/** Reorders `order` (group indices) stably by `key[group]`, a 32-bit unsigned key. */
export function sortByUint32(order: Uint32Array, key: Uint32Array | Int32Array): Uint32Array {
  const n = order.length
  let from: Uint32Array = order
  let to: Uint32Array = new Uint32Array(n)
  const counts = new Uint32Array(65536)
  for (let shift = 0; shift < 32; shift += 16) {
    counts.fill(0)
    for (let i = 0; i < n; i++) counts[(key[from[i]!]! >>> shift) & 0xffff]!++
    // Skip a pass where every key has the same digit.
    if (counts[(key[from[0]!]! >>> shift) & 0xffff] === n) continue
    let total = 0
    for (let d = 0; d < 65536; d++) {
      const c = counts[d]!
      counts[d] = total
      total += c
    }
    for (let i = 0; i < n; i++) {
      const g = from[i]!
      to[counts[(key[g]! >>> shift) & 0xffff]!++] = g
    }
    const swap = from
    from = to
    to = swap
  }
  return from
}

/** Group indices `0..n-1` sorted by `values[group]`, non-negative integers below 2^53. */
export function sortByFloat(values: Float64Array, n: number): Uint32Array {
  let order: Uint32Array = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  if (n < 2) return order
  const low = new Uint32Array(n)
  const high = new Uint32Array(n)
  let sorted = true
  for (let i = 0; i < n; i++) {
    const v = values[i]!
    low[i] = v % 4294967296
    high[i] = Math.floor(v / 4294967296)
    if (i > 0 && v < values[i - 1]!) sorted = false
  }
  if (sorted) return order
  order = sortByUint32(order, low)
  return sortByUint32(order, high)
}
