/**
 * API keys are compared in constant time: `crypto.timingSafeEqual` on SHA-256 digests (equal
 * lengths whatever the keys' lengths, so it never throws), against every configured key even
 * after a match, so the time taken says nothing about which key, or how much of one, matched.
 */
import * as crypto from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>()
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) }
})

const { ApiKeys, keyId, presentedKey } = await import('../../src/http/services/api-keys.js')
const timingSafeEqual = vi.mocked(crypto.timingSafeEqual)

afterEach(() => timingSafeEqual.mockClear())

describe('ApiKeys.identify', () => {
  const keys = new ApiKeys(['alice-key-1', 'b', 'x'.repeat(300)])

  it('finds the key presented, by id (never the key itself)', () => {
    expect(keys.identify('alice-key-1')).toBe(keyId('alice-key-1'))
    expect(keys.identify('b')).toBe(keyId('b'))
    expect(keys.identify('x'.repeat(300))).toBe(keyId('x'.repeat(300)))
    expect(keyId('alice-key-1')).not.toContain('alice')
  })

  it('refuses keys of other lengths without throwing: shorter, longer, empty, huge', () => {
    for (const presented of [
      'alice-key-',
      'alice-key-12',
      '',
      'a',
      'x'.repeat(299),
      'y'.repeat(1e5),
    ]) {
      expect(() => keys.identify(presented)).not.toThrow()
      expect(keys.identify(presented)).toBeUndefined()
    }
  })

  it('compares with timingSafeEqual on equal-length digests, against every key each time', () => {
    for (const presented of ['alice-key-1', 'nope', 'x'.repeat(300), '']) {
      timingSafeEqual.mockClear()
      keys.identify(presented)
      // One comparison per configured key, whether or not (and wherever) one matched.
      expect(timingSafeEqual).toHaveBeenCalledTimes(3)
      for (const [a, b] of timingSafeEqual.mock.calls) {
        expect((a as Buffer).length).toBe(32)
        expect((b as Buffer).length).toBe(32)
      }
    }
  })

  it('has no other comparison of keys in the code (no ===, no startsWith)', () => {
    const source = readFileSync(
      join(import.meta.dirname, '../../src/http/services/api-keys.ts'),
      'utf8',
    )
    expect(source).toContain('timingSafeEqual(candidate, key.digest)')
    expect(source).not.toMatch(/presented\s*===|===\s*presented|\.startsWith\(presented/)
  })
})

describe('presentedKey', () => {
  it('reads Bearer or X-API-Key, and nothing from other schemes', () => {
    expect(presentedKey({ authorization: 'Bearer k1' })).toBe('k1')
    expect(presentedKey({ authorization: 'bearer   k1  ' })).toBe('k1')
    expect(presentedKey({ 'x-api-key': ' k2 ' })).toBe('k2')
    expect(presentedKey({ authorization: 'Basic azE6' })).toBeUndefined()
    expect(presentedKey({ authorization: 'Bearer a b' })).toBeUndefined()
    expect(presentedKey({})).toBeUndefined()
  })
})
