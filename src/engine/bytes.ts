/** Byte values and lookup tables shared by the scanner and the writers. */
export const LF = 0x0a
export const CR = 0x0d
export const QUOTE = 0x22
export const COMMA = 0x2c
export const SPACE = 0x20
export const TAB = 0x09

export const FNV_OFFSET = 0x811c9dc5 | 0
export const FNV_PRIME = 0x01000193

/** FNV-1a over a byte range, finished with a murmur3-style mix so low bits are well spread. */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, FNV_PRIME)
  return mix32(h)
}

export function mix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h | 0
}

/** Folds one column's value (or value hash) into a group hash; finish with `mix32`. */
export function combineHash(h: number, value: number): number {
  return (Math.imul(h ^ value, 0x9e3779b1) + 0x7f4a7c15) | 0
}

export const textDecoder = new TextDecoder('utf-8', { fatal: false })
export const strictDecoder = new TextDecoder('utf-8', { fatal: true })
export const textEncoder = new TextEncoder()

export function isValidUtf8(buf: Uint8Array, start: number, end: number): boolean {
  // NUL is valid UTF-8 but not a value we accept; plain ASCII needs no decoder.
  let ascii = true
  for (let i = start; i < end; i++) {
    const b = buf[i]!
    if (b === 0) return false
    if (b >= 0x80) ascii = false
  }
  if (ascii) return true
  try {
    strictDecoder.decode(buf.subarray(start, end))
    return true
  } catch {
    return false
  }
}
