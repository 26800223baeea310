/**
 * A BlobStore (src/storage/types.ts) around the real fs store that fails on purpose: the Nth
 * write (`put`) or the Nth read (`get`) of a key under a given prefix fails with an fs-style
 * error (`EIO` unless told otherwise), either at once or after some bytes went through, the way
 * a disk or a network store fails. Everything else goes to the real store, so what succeeds is
 * really on disk.
 *
 * Without `localPath: true` the store has no local paths, like a remote one: the job runner then
 * reads uploads with `get` and writes results with `put`, so processing meets the failures too.
 */
import { Readable } from 'node:stream'
import type { FsBlobStore } from '../../../src/storage/fs/fs-blob-store.js'
import type {
  BlobStat,
  BlobStore,
  ByteRange,
  LocalPathOptions,
  PutOptions,
} from '../../../src/storage/types.js'

export interface Fault {
  /** Only operations on keys starting with this count. Default '' (all). */
  prefix?: string
  /** Which matching operation fails, from 1; `'every'`: all of them (a store that stays down). */
  nth: number | 'every'
  /** Fail after this many bytes went through; 0 (default) fails before the first byte. */
  afterBytes?: number
  /** The error's `code`. Default `EIO`. */
  code?: string
}

export interface FaultPlan {
  write?: Fault
  read?: Fault
  /** Offer `localPath` (the engine reads and writes files in place). Default false. */
  localPath?: boolean
}

/** An error as `node:fs` makes them: message, `code`, `errno`, `syscall`. */
export function fsError(code: string, syscall: string): NodeJS.ErrnoException {
  const errnos: Record<string, number> = { EIO: -5, ENOSPC: -28, EACCES: -13 }
  const error: NodeJS.ErrnoException = new Error(`${code}: injected failure, ${syscall}`)
  error.code = code
  error.errno = errnos[code] ?? -1
  error.syscall = syscall
  return error
}

export class FaultyStore implements BlobStore {
  /** Matching operations seen so far, and the keys that failed. */
  readonly seen = { writes: 0, reads: 0 }
  readonly failed: string[] = []
  localPath?: (key: string, options?: LocalPathOptions) => Promise<string>

  constructor(
    private readonly inner: FsBlobStore,
    private plan: FaultPlan = {},
  ) {
    if (plan.localPath) this.localPath = (key, options) => inner.localPath(key, options)
  }

  /** New faults from now on (counters restart). */
  setPlan(plan: Omit<FaultPlan, 'localPath'>): void {
    this.plan = { ...plan, localPath: this.plan.localPath }
    this.seen.writes = 0
    this.seen.reads = 0
  }

  init(): Promise<void> {
    return this.inner.init()
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  async put(
    key: string,
    source: AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<{ bytes: number }> {
    const fault = this.plan.write
    if (!this.hits(fault, key, 'writes')) {
      return this.inner.put(key, source, options)
    }
    this.failed.push(`write ${key}`)
    const error = fsError(fault.code ?? 'EIO', 'write')
    const afterBytes = fault.afterBytes ?? 0
    // Fails before writing anything, as when the temporary file cannot be created.
    if (afterBytes === 0) throw error
    // The real store writes its temporary file until the "disk" fails; it must clean it up.
    return this.inner.put(key, failAfter(source, afterBytes, error), options)
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const fault = this.plan.read
    if (!this.hits(fault, key, 'reads')) {
      return this.inner.get(key, range)
    }
    this.failed.push(`read ${key}`)
    const error = fsError(fault.code ?? 'EIO', 'read')
    const afterBytes = fault.afterBytes ?? 0
    if (afterBytes === 0) throw error
    const stream = await this.inner.get(key, range)
    return Readable.from(failAfter(stream, afterBytes, error), { objectMode: false })
  }

  /** Counts an operation on a key the fault watches; true when this one must fail. */
  private hits(fault: Fault | undefined, key: string, kind: 'writes' | 'reads'): fault is Fault {
    if (!fault || !key.startsWith(fault.prefix ?? '')) return false
    const count = ++this.seen[kind]
    return fault.nth === 'every' || count === fault.nth
  }

  stat(key: string): Promise<BlobStat> {
    return this.inner.stat(key)
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key)
  }

  list(prefix: string): AsyncIterable<string> {
    return this.inner.list(prefix)
  }
}

/** Passes `source` through and throws `error` once more than `afterBytes` bytes went by. */
async function* failAfter(
  source: AsyncIterable<Uint8Array>,
  afterBytes: number,
  error: Error,
): AsyncGenerator<Uint8Array> {
  let passed = 0
  for await (const chunk of source) {
    const room = afterBytes - passed
    if (chunk.byteLength > room) {
      if (room > 0) yield chunk.subarray(0, room)
      throw error
    }
    passed += chunk.byteLength
    yield chunk
  }
}
