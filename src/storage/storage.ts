/**
 * The `Storage` facade over one BlobStore adapter: the only way the rest of the service touches
 * blobs. It enforces the port's invariants once, whatever the adapter does (G3):
 * - keys and prefixes are validated before the adapter sees them (`E_INVALID_KEY`);
 * - anything an adapter throws that is not a `StorageError` becomes `E_STORAGE` with the
 *   original as `cause`, except a put's own source error and abort, which pass unchanged;
 * - the optional `localPath` capability is declared (`supportsLocalPath`) and a call without it
 *   is a clear `E_UNSUPPORTED`, not a `TypeError`.
 */
import type { Readable } from 'node:stream'
import { validateKey, validatePrefix, validateRange } from './key.js'
import { StorageError } from './storage-error.js'
import type { BlobStat, BlobStore, ByteRange, LocalPathOptions, PutOptions } from './types.js'

export class Storage implements BlobStore {
  constructor(private readonly adapter: BlobStore) {}

  /** True when blobs are files on this machine and `localPath` works. */
  get supportsLocalPath(): boolean {
    return typeof this.adapter.localPath === 'function'
  }

  init(): Promise<void> {
    return this.call('initialise', '', () => this.adapter.init())
  }

  close(): Promise<void> {
    return this.call('close', '', () => this.adapter.close())
  }

  async put(
    key: string,
    source: AsyncIterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<{ bytes: number }> {
    validateKey(key)
    // The source's own failure (e.g. an upload over its size limit) must reach the caller as it
    // was thrown, so it is recorded on the way through and rethrown as is.
    let sourceFailure: { error: unknown } | undefined
    const tracked = trackFailure(source, (error) => {
      sourceFailure = { error }
    })
    try {
      return await this.adapter.put(key, tracked, options)
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason
      if (sourceFailure) throw sourceFailure.error
      throw asStorageError(error, 'write', key)
    }
  }

  async get(key: string, range: ByteRange = {}): Promise<Readable> {
    validateKey(key)
    validateRange(range)
    return this.call('read', key, () => this.adapter.get(key, range))
  }

  async stat(key: string): Promise<BlobStat> {
    validateKey(key)
    return this.call('stat', key, () => this.adapter.stat(key))
  }

  async delete(key: string): Promise<void> {
    validateKey(key)
    return this.call('delete', key, () => this.adapter.delete(key))
  }

  async *list(prefix: string): AsyncIterable<string> {
    validatePrefix(prefix)
    try {
      yield* this.adapter.list(prefix)
    } catch (error) {
      throw asStorageError(error, 'list', prefix)
    }
  }

  async localPath(key: string, options?: LocalPathOptions): Promise<string> {
    validateKey(key)
    const localPath = this.adapter.localPath?.bind(this.adapter)
    if (!localPath) {
      throw new StorageError(
        'E_UNSUPPORTED',
        'this store keeps blobs remotely: there is no local path; read the blob with get()',
      )
    }
    return this.call('locate', key, () => localPath(key, options))
  }

  private async call<T>(action: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (error) {
      throw asStorageError(error, action, key)
    }
  }
}

/**
 * A `Readable` stays a `Readable` (adapters rely on `instanceof Readable` to abort a stalled
 * stream at once); it reports its errors through the `error` event instead.
 */
function trackFailure(
  source: AsyncIterable<Uint8Array>,
  onFailure: (error: unknown) => void,
): AsyncIterable<Uint8Array> {
  if (isReadable(source)) {
    const onError = (error: unknown) => {
      if (isRelease(error)) return
      source.off('error', onError)
      onFailure(error)
    }
    source.on('error', onError)
    return source
  }
  return {
    async *[Symbol.asyncIterator]() {
      try {
        yield* source
      } catch (error) {
        onFailure(error)
        throw error
      }
    },
  }
}

/**
 * Node destroys a stream with a plain AbortError (no `cause`) when its reader stops early (an
 * async iterator's `return()`), which is what an adapter does when its own write fails (a full
 * disk): the adapter let go of the source; the source did not fail, and the store's error is the
 * one to report (`E_STORAGE` with `ENOSPC` is a 507, not a 500). An abort through the put's
 * signal carries its reason as `cause`, and is reported from the signal anyway.
 */
function isRelease(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError' && error.cause === undefined
}

function isReadable(source: AsyncIterable<Uint8Array>): source is Readable {
  return (
    typeof (source as Readable).pipe === 'function' &&
    typeof (source as Readable).once === 'function'
  )
}

function asStorageError(error: unknown, action: string, key: string): StorageError {
  if (error instanceof StorageError) return error
  // The message stays generic (it may reach a client); the cause keeps the details for the log.
  return new StorageError('E_STORAGE', `storage failed to ${action} ${JSON.stringify(key)}`, {
    cause: error,
  })
}
