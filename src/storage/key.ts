/**
 * Storage key rules, checked once at the facade and again by each adapter (cheap, and an adapter
 * used alone stays safe). Keys are refused, never rewritten: silently turning `a//b` into `a/b`
 * would let two spellings name one blob. Keys never reach the store from a client unchecked;
 * nothing here can name a path outside the store's root.
 */

import { StorageError } from './storage-error.js'
import type { ByteRange } from './types.js'

/** S3's limit, in characters (keys are ASCII, so also bytes). */
export const MAX_KEY_LENGTH = 1024
/** Suffix reserved for writes in progress (the fs adapter's and the engine's temporary files). */
export const PARTIAL_SUFFIX = '.partial'

const SEGMENT = /^[A-Za-z0-9._-]+$/

/** Returns `key` when it is valid; throws `E_INVALID_KEY` saying why otherwise. */
export function validateKey(key: string): string {
  checkPath(key, 'key')
  if (key.endsWith(PARTIAL_SUFFIX)) {
    throw invalid(
      key,
      'key',
      `names ending in "${PARTIAL_SUFFIX}" are reserved for temporary files`,
    )
  }
  return key
}

/** A listing prefix: `''`, a key, or a key followed by `/`, or a key's beginning. */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix
  checkPath(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, 'prefix', prefix)
  return prefix
}

/** Throws `E_INVALID_RANGE` unless both ends are non-negative integers with `start <= end`. */
export function validateRange(range: ByteRange): void {
  const { start, end } = range
  const ok = (n: number | undefined) => n === undefined || (Number.isSafeInteger(n) && n >= 0)
  if (!ok(start) || !ok(end) || (end !== undefined && end < (start ?? 0))) {
    throw new StorageError(
      'E_INVALID_RANGE',
      `invalid byte range: start ${start ?? 'absent'}, end ${end ?? 'absent'} (inclusive, start <= end)`,
    )
  }
}

function checkPath(path: string, what: string, original = path): void {
  if (typeof path !== 'string' || path === '') throw invalid(original, what, 'it is empty')
  if (path.length > MAX_KEY_LENGTH) {
    throw invalid(original, what, `it is longer than ${MAX_KEY_LENGTH} characters`)
  }
  if (path.startsWith('/')) throw invalid(original, what, 'it is an absolute path')
  for (const segment of path.split('/')) {
    if (segment === '') throw invalid(original, what, 'it has an empty path segment')
    if (segment === '.' || segment === '..') {
      throw invalid(original, what, `it has a "${segment}" path segment`)
    }
    if (!SEGMENT.test(segment)) {
      throw invalid(original, what, 'allowed characters are A-Z a-z 0-9 . _ - and / between names')
    }
  }
}

function invalid(key: string, what: string, reason: string): StorageError {
  const shown = String(key).length > 80 ? `${String(key).slice(0, 80)}…` : String(key)
  return new StorageError(
    'E_INVALID_KEY',
    `invalid storage ${what} ${JSON.stringify(shown)}: ${reason}`,
  )
}
