import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freeDiskBytes } from '../../src/storage/fs/free-disk.js'
import { FsBlobStore } from '../../src/storage/fs/fs-blob-store.js'
import { Storage } from '../../src/storage/storage.js'
import type { BlobStore } from '../../src/storage/types.js'
import {
  chunks,
  collect,
  describeBlobStoreContract,
  expectStorageError,
  text,
} from '../contracts/blob-store.js'

let base: string
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tally-fs-store-'))
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

/** Each store gets `<base>/<n>/root`, so a write escaping its root would land in `<base>/<n>`. */
let count = 0
async function freshRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const dir = join(base, String(++count))
  await mkdir(dir)
  return { root: join(dir, 'root'), cleanup: () => rm(dir, { recursive: true, force: true }) }
}

describeBlobStoreContract('fs', async () => {
  const { root, cleanup } = await freshRoot()
  return { store: new FsBlobStore({ root }), cleanup }
})

describeBlobStoreContract('Storage facade over fs', async () => {
  const { root, cleanup } = await freshRoot()
  return { store: new Storage(new FsBlobStore({ root })), cleanup }
})

describe('FsBlobStore', () => {
  async function initialised(options: { staleTempMs?: number } = {}) {
    const { root } = await freshRoot()
    const store = new FsBlobStore({ root, ...options })
    return { root, store }
  }

  it('does no I/O in its constructor; init creates the root', async () => {
    const { root, store } = await initialised()
    await expect(stat(root)).rejects.toMatchObject({ code: 'ENOENT' })
    await store.init()
    expect((await stat(root)).isDirectory()).toBe(true)
  })

  it('stores blob a/b.csv as the file <root>/a/b.csv and leaves no temporary file', async () => {
    const { root, store } = await initialised()
    await store.init()
    await store.put('results/job_1.csv', chunks('Song\n'))
    expect(await readFile(join(root, 'results', 'job_1.csv'), 'utf8')).toBe('Song\n')
    expect(await readdir(join(root, 'results'))).toEqual(['job_1.csv'])
  })

  it('writes nothing outside its root, whatever the key', async () => {
    const { root, store } = await initialised()
    await store.init()
    for (const key of ['../outside', '../../outside', 'a/../../outside', '/tmp/outside']) {
      await expectStorageError(store.put(key, chunks('x')), 'E_INVALID_KEY')
    }
    expect(await readdir(dirname(root))).toEqual(['root'])
    expect(await readdir(root)).toEqual([])
  })

  it('init removes stale temporary files and keeps recent ones', async () => {
    const { root, store } = await initialised({ staleTempMs: 60_000 })
    await mkdir(join(root, 'results'), { recursive: true })
    const stale = join(root, 'results', 'job_1.csv.abc123.partial')
    const fresh = join(root, 'results', 'job_2.csv.def456.partial')
    const engineTemp = join(root, 'results', 'job_3.csv.tally-0a1b2c.partial')
    await writeFile(stale, 'half')
    await writeFile(fresh, 'being written')
    await writeFile(engineTemp, 'half')
    const old = new Date(Date.now() - 3_600_000)
    await utimes(stale, old, old)
    await utimes(engineTemp, old, old)
    await store.init()
    expect((await readdir(join(root, 'results'))).sort()).toEqual(['job_2.csv.def456.partial'])
  })

  it('never lists temporary files or names that are not valid keys', async () => {
    const { root, store } = await initialised()
    await store.init()
    await store.put('results/ok.csv', chunks('x'))
    await writeFile(join(root, 'results', 'ok.csv.tally-abc.partial'), 'half')
    await writeFile(join(root, 'results', 'has space.csv'), 'x')
    expect(await collect(store.list(''))).toEqual(['results/ok.csv'])
  })

  it('refuses a key that collides with a prefix, and the reverse', async () => {
    const { store } = await initialised()
    await store.init()
    await store.put('a', chunks('blob'))
    await expectStorageError(store.put('a/b', chunks('x')), 'E_INVALID_KEY')
    await store.put('dir/inner', chunks('x'))
    await expectStorageError(store.put('dir', chunks('x')), 'E_INVALID_KEY')
    expect(await text(store, 'a')).toBe('blob')
    await store.delete('dir')
    expect(await text(store, 'dir/inner')).toBe('x')
  })

  it('gives local paths: existing blobs to read, and a ready directory to write', async () => {
    const { root, store } = await initialised()
    await store.init()
    await store.put('uploads/job_1', chunks('data'))
    expect(await store.localPath('uploads/job_1')).toBe(join(root, 'uploads', 'job_1'))
    await expectStorageError(store.localPath('uploads/none'), 'E_BLOB_NOT_FOUND')
    const target = await store.localPath('results/deep/job_1.csv', { forWrite: true })
    expect(target).toBe(join(root, 'results', 'deep', 'job_1.csv'))
    expect((await stat(dirname(target))).isDirectory()).toBe(true)
    await expectStorageError(store.localPath('../x', { forWrite: true }), 'E_INVALID_KEY')
  })

  it('keeps reading a blob opened before it was deleted', async () => {
    const { store } = await initialised()
    await store.init()
    await store.put('k', chunks('still here'))
    const stream = await store.get('k')
    await store.delete('k')
    let read = ''
    for await (const chunk of stream) read += chunk
    expect(read).toBe('still here')
  })

  it('reports free disk space', async () => {
    expect(await freeDiskBytes(base)).toBeGreaterThan(0)
  })
})

describe('Storage facade', () => {
  it('declares the localPath capability of its adapter', async () => {
    const { root } = await freshRoot()
    expect(new Storage(new FsBlobStore({ root })).supportsLocalPath).toBe(true)
    const remote = new Storage(remoteLike())
    expect(remote.supportsLocalPath).toBe(false)
    await expectStorageError(remote.localPath('uploads/x'), 'E_UNSUPPORTED')
  })

  it('wraps adapter failures as E_STORAGE keeping the cause', async () => {
    const cause = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })
    const storage = new Storage(remoteLike(cause))
    const error = await storage.stat('x').catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'E_STORAGE', cause })
    expect((error as Error).message).not.toContain('EIO')
    await expectStorageError(storage.put('x', chunks('a')), 'E_STORAGE')
    await expectStorageError(collect(storage.list('')), 'E_STORAGE')
  })

  it('validates keys before the adapter sees them', async () => {
    const seen: string[] = []
    const storage = new Storage(remoteLike(undefined, seen))
    await expectStorageError(storage.stat('../x'), 'E_INVALID_KEY')
    await expectStorageError(storage.get('ok', { start: 3, end: 1 }), 'E_INVALID_RANGE')
    expect(seen).toEqual([])
  })
})

/** A store without `localPath` whose every call fails with `failure` (failure injection). */
function remoteLike(failure?: Error, seen: string[] = []): BlobStore {
  const fail = async (key: string): Promise<never> => {
    seen.push(key)
    throw failure ?? new Error('not reachable in this test')
  }
  return {
    init: async () => {},
    close: async () => {},
    put: (key) => fail(key),
    get: (key) => fail(key),
    stat: (key) => fail(key),
    delete: (key) => fail(key),
    list: (prefix) => ({
      [Symbol.asyncIterator]: () => ({ next: () => fail(prefix) }),
    }),
  }
}
