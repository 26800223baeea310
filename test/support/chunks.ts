/**
 * Ways to cut an input into chunks, to check that where the bytes of a CSV are split (between
 * CR and LF, between a quote and its closing `""`, inside a multi-byte character or a BOM)
 * never changes the result.
 */

/** `input` in chunks of `size` bytes (the last one may be shorter). */
export function chunksOf(input: Uint8Array, size: number): Uint8Array[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be >= 1: ${size}`)
  const chunks: Uint8Array[] = []
  for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size))
  return chunks
}

/** `input` cut at the given offsets (any order, duplicates and out-of-range ones ignored). */
export function splitAt(input: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < input.length))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let from = 0
  for (const to of [...points, input.length]) {
    chunks.push(input.subarray(from, to))
    from = to
  }
  return chunks
}

/**
 * `input` in chunks of random sizes from 1 to `maxSize`, drawn from `random` (a function
 * returning numbers in [0, 1), e.g. a seeded generator, so a failure can be replayed).
 */
export function randomChunks(input: Uint8Array, random: () => number, maxSize = 64): Uint8Array[] {
  const chunks: Uint8Array[] = []
  let at = 0
  while (at < input.length) {
    const size = 1 + Math.floor(random() * maxSize)
    chunks.push(input.subarray(at, at + size))
    at += size
  }
  return chunks
}

/** A small seeded generator (mulberry32) for `randomChunks`. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
