/**
 * The BlobStore contract: every adapter (and the `Storage` facade over each) must pass it.
 * `makeStore` returns a fresh, empty, un-initialised store; the suite calls `init()`/`close()`.
 * Adapter-specific behaviour goes in a test file named for the adapter.
 */
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isStorageError, type StorageErrorCode } from '../../src/storage/storage-error.js'
import type { BlobStore } from '../../src/storage/types.js'

export interface BlobStoreFixture {
  store: BlobStore
  /** Removes what the store left behind (temp dir, bucket prefix). */
  cleanup?: () => Promise<void>
}

export const BAD_KEYS = [
  '',
  '../escape',
  'a/../../escape',
  '..',
  '.',
  './a',
  'a/./b',
  '/etc/passwd',
  'a//b',
  'a/',
  'a\\..\\b',
  'C:\\windows',
  'nul\0byte',
  'space here',
  'percent%2e%2e',
  'ünïcode',
  'q?x=1',
  'x.partial',
  'x'.repeat(1025),
]

export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(Buffer.from(chunk))
  return Buffer.concat(parts)
}

export async function text(store: BlobStore, key: string, range?: object): Promise<string> {
  return (await readAll(await store.get(key, range))).toString('utf8')
}

export async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const keys: string[] = []
  for await (const key of iterable) keys.push(key)
  return keys.sort()
}

export function chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (const part of parts) yield Buffer.from(part)
  })()
}

export async function expectStorageError(
  promise: Promise<unknown>,
  code: StorageErrorCode,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isStorageError(error, code), `expected ${code}, got ${String(error)}`).toBe(true)
}

export function describeBlobStoreContract(
  name: string,
  makeStore: () => Promise<BlobStoreFixture>,
): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture
    let store: BlobStore

    beforeEach(async () => {
      fixture = await makeStore()
      store = fixture.store
      await store.init()
    })

    afterEach(async () => {
      await store.close()
      await fixture.cleanup?.()
    })

    it('puts and gets bytes, reporting the size', async () => {
      expect(await store.put('uploads/a.csv', chunks('Song,Date\n', 'x,2020-01-01\n'))).toEqual({
        bytes: 23,
      })
      expect(await text(store, 'uploads/a.csv')).toBe('Song,Date\nx,2020-01-01\n')
    })

    it('accepts a Readable, an async generator and an empty source', async () => {
      await store.put('r', Readable.from([Buffer.from('from a stream')]))
      await store.put('g', chunks('from ', 'a generator'))
      expect(await store.put('empty', chunks())).toEqual({ bytes: 0 })
      expect(await text(store, 'r')).toBe('from a stream')
      expect(await text(store, 'g')).toBe('from a generator')
      expect(await text(store, 'empty')).toBe('')
      expect((await store.stat('empty')).bytes).toBe(0)
    })

    it('keeps binary data intact over many chunks', async () => {
      const data = Buffer.alloc(3 * 1024 * 1024 + 7)
      for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 11)) & 0xff
      const parts = (async function* () {
        for (let at = 0; at < data.length; at += 65_536) yield data.subarray(at, at + 65_536)
      })()
      expect(await store.put('bin/blob', parts)).toEqual({ bytes: data.length })
      expect((await readAll(await store.get('bin/blob'))).equals(data)).toBe(true)
    })

    it('replaces an existing blob', async () => {
      await store.put('k', chunks('old content'))
      await store.put('k', chunks('new'))
      expect(await text(store, 'k')).toBe('new')
      expect((await store.stat('k')).bytes).toBe(3)
    })

    it('reads inclusive byte ranges', async () => {
      await store.put('range', chunks('0123456789'))
      expect(await text(store, 'range', { start: 2, end: 5 })).toBe('2345')
      expect(await text(store, 'range', { start: 7 })).toBe('789')
      expect(await text(store, 'range', { end: 0 })).toBe('0')
      expect(await text(store, 'range', { start: 9, end: 9 })).toBe('9')
      expect(await text(store, 'range', { start: 8, end: 100 })).toBe('89')
      expect(await text(store, 'range', { start: 10 })).toBe('')
      expect(await text(store, 'range', { start: 50, end: 60 })).toBe('')
    })

    it('refuses malformed ranges', async () => {
      await store.put('range', chunks('0123456789'))
      for (const range of [{ start: -1 }, { start: 5, end: 4 }, { start: 1.5 }, { end: -2 }]) {
        await expectStorageError(store.get('range', range), 'E_INVALID_RANGE')
      }
    })

    it('reports a missing blob as E_BLOB_NOT_FOUND on get and stat', async () => {
      await expectStorageError(store.get('missing/x'), 'E_BLOB_NOT_FOUND')
      await expectStorageError(store.stat('missing/x'), 'E_BLOB_NOT_FOUND')
      await store.put('dir/inner', chunks('x'))
      await expectStorageError(store.get('dir'), 'E_BLOB_NOT_FOUND')
      await expectStorageError(store.stat('dir'), 'E_BLOB_NOT_FOUND')
    })

    it('stats size and modification time', async () => {
      const before = Date.now() - 2000
      await store.put('s', chunks('12345'))
      const info = await store.stat('s')
      expect(info.bytes).toBe(5)
      expect(info.modifiedAt).toBeInstanceOf(Date)
      expect(info.modifiedAt.getTime()).toBeGreaterThanOrEqual(before)
      expect(info.modifiedAt.getTime()).toBeLessThanOrEqual(Date.now() + 2000)
    })

    it('deletes idempotently', async () => {
      await store.put('d', chunks('x'))
      await store.delete('d')
      await expectStorageError(store.stat('d'), 'E_BLOB_NOT_FOUND')
      await store.delete('d')
      await store.delete('never/was')
    })

    it('lists by plain string prefix', async () => {
      for (const key of ['a/1', 'a/2', 'a/deep/3', 'ab/4', 'b/5', 'top']) {
        await store.put(key, chunks(key))
      }
      expect(await collect(store.list('a/'))).toEqual(['a/1', 'a/2', 'a/deep/3'])
      expect(await collect(store.list('a'))).toEqual(['a/1', 'a/2', 'a/deep/3', 'ab/4'])
      expect(await collect(store.list('a/d'))).toEqual(['a/deep/3'])
      expect(await collect(store.list(''))).toEqual([
        'a/1',
        'a/2',
        'a/deep/3',
        'ab/4',
        'b/5',
        'top',
      ])
      expect(await collect(store.list('zzz/'))).toEqual([])
      await store.delete('a/2')
      expect(await collect(store.list('a/'))).toEqual(['a/1', 'a/deep/3'])
    })

    it('leaves nothing visible when the source fails, and rethrows its error', async () => {
      const failure = new Error('upload too large')
      const failing = (async function* () {
        yield Buffer.from('partial data')
        throw failure
      })()
      await expect(store.put('f/new', failing)).rejects.toBe(failure)
      await expectStorageError(store.stat('f/new'), 'E_BLOB_NOT_FOUND')
      expect(await collect(store.list(''))).toEqual([])
    })

    it('keeps the old blob when a replacing put fails', async () => {
      await store.put('f/old', chunks('old content'))
      const failing = (async function* () {
        yield Buffer.from('new data that never')
        throw new Error('client went away')
      })()
      await expect(store.put('f/old', failing)).rejects.toThrow('client went away')
      expect(await text(store, 'f/old')).toBe('old content')
      expect(await collect(store.list(''))).toEqual(['f/old'])
    })

    it('stops an aborted put at once, even on a stalled stream, leaving nothing', async () => {
      const controller = new AbortController()
      const stalled = new Readable({ read() {} })
      stalled.push(Buffer.from('first bytes'))
      const put = store.put('aborted', stalled, { signal: controller.signal })
      await sleep(50)
      const started = Date.now()
      controller.abort()
      const error = await put.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((error as Error).name).toBe('AbortError')
      expect(Date.now() - started).toBeLessThan(1000)
      await expectStorageError(store.stat('aborted'), 'E_BLOB_NOT_FOUND')
      expect(await collect(store.list(''))).toEqual([])
    })

    it('refuses a put whose signal is already aborted', async () => {
      const controller = new AbortController()
      controller.abort()
      await expect(
        store.put('pre', chunks('x'), { signal: controller.signal }),
      ).rejects.toMatchObject({ name: 'AbortError' })
      await expectStorageError(store.stat('pre'), 'E_BLOB_NOT_FOUND')
    })

    it('shows readers the old blob until a put completes', async () => {
      await store.put('atomic', chunks('old'))
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const slow = (async function* () {
        yield Buffer.from('new ')
        await gate
        yield Buffer.from('content')
      })()
      const put = store.put('atomic', slow)
      await sleep(50)
      expect(await text(store, 'atomic')).toBe('old')
      expect(await collect(store.list(''))).toEqual(['atomic'])
      release()
      await put
      expect(await text(store, 'atomic')).toBe('new content')
    })

    it('refuses keys that could escape or are malformed, touching nothing', async () => {
      for (const key of BAD_KEYS) {
        let consumed = false
        const source = (async function* () {
          consumed = true
          yield Buffer.from('x')
        })()
        await expectStorageError(store.put(key, source), 'E_INVALID_KEY')
        expect(consumed, key).toBe(false)
        await expectStorageError(store.get(key), 'E_INVALID_KEY')
        await expectStorageError(store.stat(key), 'E_INVALID_KEY')
        await expectStorageError(store.delete(key), 'E_INVALID_KEY')
      }
      for (const prefix of ['../', '/abs', 'a/../', 'a//', 'a\\b', '..']) {
        await expectStorageError(collect(store.list(prefix)), 'E_INVALID_KEY')
      }
      expect(await collect(store.list(''))).toEqual([])
    })

    it('accepts every allowed character', async () => {
      const key = 'Az09/._-/results/job_abc-1.csv'
      await store.put(key, chunks('ok'))
      expect(await text(store, key)).toBe('ok')
      expect(await collect(store.list('Az09/'))).toEqual([key])
    })
  })
}
