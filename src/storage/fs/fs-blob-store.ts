/**
 * The local filesystem adapter: blob `a/b.csv` is the file `<root>/a/b.csv`.
 *
 * Writes go to `<final path>.<writer tag>.<random hex>.partial` in the same directory (so the
 * rename is atomic: same filesystem), are fsynced, then renamed over the final name, and the
 * directory is fsynced so the rename survives a power cut. `.partial` files are never listed or
 * readable as blobs; `init()` removes those whose writer is known dead (a process of this
 * machine that is gone, see `temp-writer.ts`) and those old enough to be left over from a dead
 * process elsewhere (younger ones may be another machine's writes in progress on a shared volume).
 *
 * Every key is validated and its path checked to lie inside the root, so nothing can escape it.
 */
import { randomBytes } from 'node:crypto'
import type { Dirent } from 'node:fs'
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { addAbortSignal, Readable } from 'node:stream'
import { PARTIAL_SUFFIX, validateKey, validatePrefix, validateRange } from '../key.js'
import { StorageError } from '../storage-error.js'
import type { BlobStat, BlobStore, ByteRange, LocalPathOptions, PutOptions } from '../types.js'
import { writerIsDead, writerTag } from './temp-writer.js'

export interface FsBlobStoreOptions {
  /** Directory holding the blobs; created by `init()`. */
  root: string
  /** `init()` removes temporary files not modified for this long. Default one hour. */
  staleTempMs?: number
}

const READ_CHUNK_BYTES = 256 * 1024

export class FsBlobStore implements BlobStore {
  readonly root: string
  private readonly staleTempMs: number

  constructor(options: FsBlobStoreOptions) {
    this.root = resolve(options.root)
    this.staleTempMs = options.staleTempMs ?? 60 * 60 * 1000
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true })
      const staleBefore = Date.now() - this.staleTempMs
      for await (const { path, name } of walk(this.root)) {
        if (!name.endsWith(PARTIAL_SUFFIX)) continue
        if (writerIsDead(name)) {
          await rm(path, { force: true })
          continue
        }
        const info = await stat(path).catch(() => undefined)
        if (info && info.mtimeMs <= staleBefore) await rm(path, { force: true })
      }
    } catch (error) {
      throw wrap(error, 'initialise', this.root)
    }
  }

  async close(): Promise<void> {}

  async put(
    key: string,
    source: AsyncIterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<{ bytes: number }> {
    const path = this.pathOf(key)
    const { signal } = options
    signal?.throwIfAborted()
    const temp = `${path}.${writerTag()}.${randomBytes(6).toString('hex')}${PARTIAL_SUFFIX}`
    let handle: FileHandle | undefined
    let bytes = 0
    let sourceFailure: { error: unknown } | undefined
    let chunks: AsyncIterator<Uint8Array> | undefined
    try {
      await mkdir(dirname(path), { recursive: true })
      handle = await open(temp, 'wx')
      // A stream source is destroyed on abort, so a stalled upload stops at once; other
      // iterables are checked between chunks.
      if (signal && source instanceof Readable) addAbortSignal(signal, source)
      chunks = source[Symbol.asyncIterator]()
      for (;;) {
        let next: IteratorResult<Uint8Array>
        try {
          next = await chunks.next()
        } catch (error) {
          sourceFailure = { error }
          throw error
        }
        if (next.done) break
        signal?.throwIfAborted()
        await writeAll(handle, next.value)
        bytes += next.value.byteLength
      }
      await handle.sync()
      await handle.close()
      handle = undefined
      await rename(temp, path)
      await syncDirectory(dirname(path))
      return { bytes }
    } catch (error) {
      // Release the source (a request stream is destroyed) unless it is the one that failed.
      if (!sourceFailure) await chunks?.return?.().catch(() => {})
      await handle?.close().catch(() => {})
      await rm(temp, { force: true }).catch(() => {})
      if (signal?.aborted) throw signal.reason
      if (sourceFailure) throw sourceFailure.error
      throw wrap(error, 'write', key)
    }
  }

  async get(key: string, range: ByteRange = {}): Promise<Readable> {
    validateRange(range)
    const path = this.pathOf(key)
    let handle: FileHandle
    try {
      handle = await open(path, 'r')
    } catch (error) {
      throw wrap(error, 'read', key)
    }
    try {
      // Opening a directory for reading succeeds on Linux; it is still not a blob.
      if (!(await handle.stat()).isFile()) throw notFound(key)
      return handle.createReadStream({
        start: range.start,
        end: range.end,
        highWaterMark: READ_CHUNK_BYTES,
      })
    } catch (error) {
      await handle.close().catch(() => {})
      throw wrap(error, 'read', key)
    }
  }

  async stat(key: string): Promise<BlobStat> {
    const path = this.pathOf(key)
    try {
      const info = await stat(path)
      if (!info.isFile()) throw notFound(key)
      return { bytes: info.size, modifiedAt: info.mtime }
    } catch (error) {
      throw wrap(error, 'stat', key)
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key)
    try {
      await unlink(path)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // Missing, or a directory (a prefix, not a blob): either way no blob remains.
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EPERM') return
      throw wrap(error, 'delete', key)
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    validatePrefix(prefix)
    // Start at the deepest directory the prefix names; `walk` prunes branches that cannot match.
    const slash = prefix.lastIndexOf('/')
    const base = slash === -1 ? '' : prefix.slice(0, slash + 1)
    const start = base === '' ? this.root : join(this.root, ...base.split('/'))
    try {
      for await (const { key } of walk(start, base, prefix)) {
        if (!key.startsWith(prefix) || key.endsWith(PARTIAL_SUFFIX)) continue
        if (isValidKey(key)) yield key
      }
    } catch (error) {
      throw wrap(error, 'list', prefix)
    }
  }

  async localPath(key: string, options: LocalPathOptions = {}): Promise<string> {
    const path = this.pathOf(key)
    if (options.forWrite) {
      try {
        await mkdir(dirname(path), { recursive: true })
      } catch (error) {
        throw wrap(error, 'prepare', key)
      }
      return path
    }
    await this.stat(key)
    return path
  }

  private pathOf(key: string): string {
    validateKey(key)
    const path = join(this.root, ...key.split('/'))
    const rel = relative(this.root, path)
    // Belt and braces: the key rules already forbid every way out.
    if (rel === '' || rel.startsWith('..') || rel.startsWith(sep)) {
      throw new StorageError('E_INVALID_KEY', `invalid storage key ${JSON.stringify(key)}`)
    }
    return path
  }
}

interface WalkEntry {
  path: string
  name: string
  key: string
}

/** Files under `dir`, depth first. Descends only into directories that can hold `prefix` keys. */
async function* walk(dir: string, keyBase = '', prefix = ''): AsyncGenerator<WalkEntry> {
  let entries: Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return
    throw error
  }
  for (const entry of entries) {
    const key = `${keyBase}${entry.name}`
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      const inner = `${key}/`
      if (inner.startsWith(prefix) || prefix.startsWith(inner)) yield* walk(path, inner, prefix)
    } else if (entry.isFile()) {
      yield { path, name: entry.name, key }
    }
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let at = 0
  while (at < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, at, chunk.byteLength - at)
    at += bytesWritten
  }
}

/** Makes a rename durable. Some platforms cannot fsync a directory; the rename still happened. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined)
  if (!handle) return
  try {
    await handle.sync()
  } catch {
    // Not supported here (e.g. some network filesystems): nothing more can be done.
  } finally {
    await handle.close()
  }
}

function isValidKey(key: string): boolean {
  try {
    validateKey(key)
    return true
  } catch {
    return false
  }
}

function notFound(key: string): StorageError {
  return new StorageError('E_BLOB_NOT_FOUND', `no blob under key ${JSON.stringify(key)}`)
}

/** Node fs errors -> the port's error contract; StorageErrors pass through. */
function wrap(error: unknown, action: string, key: string): StorageError {
  if (error instanceof StorageError) return error
  const code = (error as NodeJS.ErrnoException).code
  const reading = action === 'read' || action === 'stat'
  if (reading && (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR')) {
    return new StorageError('E_BLOB_NOT_FOUND', `no blob under key ${JSON.stringify(key)}`, {
      cause: error,
    })
  }
  const writing = action === 'write' || action === 'prepare'
  if (writing && (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST')) {
    return new StorageError(
      'E_INVALID_KEY',
      `storage key ${JSON.stringify(key)} conflicts with an existing blob or prefix`,
      { cause: error },
    )
  }
  return new StorageError(
    'E_STORAGE',
    `storage failed to ${action} ${JSON.stringify(key)}${code ? ` (${code})` : ''}`,
    { cause: error },
  )
}
