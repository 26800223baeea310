/**
 * The BlobStore port: where uploads, results and rejects live. Adapters: `fs/` (a local
 * directory, the default) and, later, `s3/`. Callers normally go through the `Storage` facade,
 * which validates keys once and wraps adapter failures; adapters validate keys too, so one used
 * on its own is still safe.
 *
 * Keys are `/`-separated paths of `[A-Za-z0-9._-]` segments (see `key.ts`), never absolute,
 * never with `.`/`..`/empty segments. Names ending in `.partial` are reserved for writes in
 * progress and never listed or read.
 *
 * Error contract, shared by every method and adapter:
 * - `StorageError` `E_INVALID_KEY`: the key (or prefix) breaks the key rules. Nothing was touched.
 * - `StorageError` `E_BLOB_NOT_FOUND`: no blob under that key (a "directory" is not a blob).
 * - `StorageError` `E_INVALID_RANGE`: `get` with a negative, fractional or reversed range.
 * - `StorageError` `E_STORAGE`: the store itself failed (disk full, permissions, network);
 *   `cause` holds the adapter's error. Callers may retry these.
 */
import type { Readable } from 'node:stream'

export interface BlobStat {
  bytes: number
  modifiedAt: Date
}

export interface PutOptions {
  /** Aborting stops the write; the put rejects with the signal's AbortError, nothing is kept. */
  signal?: AbortSignal
}

/**
 * A byte range. Both ends are inclusive, as in HTTP `Range: bytes=start-end`, Node's
 * `createReadStream` and S3's `Range`, so no layer translates. Bytes past the end of the blob
 * are simply absent: the stream is shorter, or empty when `start` is at or past the end.
 * Callers answering HTTP Range requests compare with `stat().bytes` first (416).
 */
export interface ByteRange {
  /** First byte, from 0. Default 0. */
  start?: number
  /** Last byte, inclusive. Default: the last byte of the blob. */
  end?: number
}

export interface LocalPathOptions {
  /**
   * `false` (default): the blob must exist (else `E_BLOB_NOT_FOUND`); read it in place.
   * `true`: for writing. The parent directory exists on return; the caller must write the file
   * atomically itself: under a temporary name ending in `.partial` in the same directory, then
   * rename (the engine's output writer does exactly this).
   */
  forWrite?: boolean
}

export interface BlobStore {
  /** Creates what the store needs (directories, buckets checks) and cleans stale temporaries. */
  init(): Promise<void>
  close(): Promise<void>

  /**
   * Stores the bytes of `source` under `key`, replacing any blob there. Atomic: readers see the
   * old blob or the whole new one, never part; a failed or aborted put leaves the old blob (or
   * nothing). Durable on return (fsync for files).
   *
   * Rejects with the source's own error if iterating `source` throws (a byte limiter's
   * "too large" error reaches the caller unchanged), with an AbortError if `signal` aborts, and
   * with `E_INVALID_KEY` or `E_STORAGE` otherwise.
   */
  put(
    key: string,
    source: AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<{ bytes: number }>

  /**
   * Opens the blob for reading; resolves once it is open, so a missing blob is a rejection
   * (`E_BLOB_NOT_FOUND`), not a stream error. The stream reads the blob as it was when opened.
   * Throws `E_INVALID_RANGE` for a malformed range.
   */
  get(key: string, range?: ByteRange): Promise<Readable>

  /** Size and modification time. Throws `E_BLOB_NOT_FOUND`. */
  stat(key: string): Promise<BlobStat>

  /** Removes the blob. Idempotent: a missing key succeeds. */
  delete(key: string): Promise<void>

  /**
   * Keys that start with `prefix` (a plain string prefix, as in S3: `results/` or `res`), in no
   * particular order. `''` lists everything. Writes in progress are not listed.
   */
  list(prefix: string): AsyncIterable<string>

  /**
   * Capability of stores whose blobs are files on this machine: the file's path, so the engine
   * can read and write in place instead of copying. Absent on remote stores (S3); the `Storage`
   * facade turns a call on those into `E_UNSUPPORTED`.
   */
  localPath?(key: string, options?: LocalPathOptions): Promise<string>
}
