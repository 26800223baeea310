/**
 * The S3 adapter: blob `a/b.csv` is the object `<prefix>a/b.csv` in one bucket, on AWS S3 or any
 * S3-compatible store.
 *
 * Writes stream through `@aws-sdk/lib-storage`'s `Upload`: a body shorter than one part is one
 * PutObject, a longer one a multipart upload of `partSizeBytes` parts (at most `queueSize` in
 * memory at once, never the whole blob). Either way S3 makes the object visible only once the
 * upload completes, which is the port's atomicity; a failed or aborted upload is aborted on the
 * server (`leavePartsOnError: false`), so no parts linger. There is no `localPath` capability:
 * the runner downloads inputs and uploads outputs.
 */

import { addAbortSignal, Readable } from 'node:stream'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { validateKey, validatePrefix, validateRange } from '../key.js'
import { StorageError } from '../storage-error.js'
import type { BlobStat, BlobStore, ByteRange, PutOptions } from '../types.js'
import { isMissing, isUnsatisfiableRange, wrapS3Error } from './s3-errors.js'
import type { S3Location } from './s3-location.js'

export interface S3BlobStoreOptions extends S3Location {
  /** A client to use (left open on close). Or `clientConfig`, and the store makes its own. */
  client?: S3Client
  clientConfig?: S3ClientConfig
  /** Multipart part size; S3's minimum is 5 MiB. Default 8 MiB. */
  partSizeBytes?: number
  /** Parts uploaded at once. Default 4. */
  queueSize?: number
}

const MIB = 1024 * 1024

export class S3BlobStore implements BlobStore {
  private client: S3Client | undefined
  private readonly bucket: string
  private readonly prefix: string

  constructor(private readonly options: S3BlobStoreOptions) {
    this.bucket = options.bucket
    this.prefix = options.prefix
    if (this.prefix !== '') validatePrefix(this.prefix)
  }

  /** Checks that the bucket exists and can be reached with these credentials. */
  async init(): Promise<void> {
    this.client ??= this.options.client ?? new S3Client(this.options.clientConfig ?? {})
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }))
    } catch (error) {
      const reason = isMissing(error) ? 'it does not exist' : 'it cannot be reached'
      throw new StorageError('E_STORAGE', `S3 bucket ${JSON.stringify(this.bucket)}: ${reason}`, {
        cause: error,
      })
    }
  }

  async close(): Promise<void> {
    if (this.client && !this.options.client) this.client.destroy()
    this.client = undefined
  }

  async put(
    key: string,
    source: AsyncIterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<{ bytes: number }> {
    const name = this.objectName(key)
    const { signal } = options
    signal?.throwIfAborted()
    const client = this.open()
    let bytes = 0
    let sourceFailure: { error: unknown } | undefined
    // A stream source is destroyed on abort, so a stalled upload stops at once.
    if (signal && source instanceof Readable) addAbortSignal(signal, source)
    const body = Readable.from(
      (async function* () {
        try {
          for await (const chunk of source) {
            bytes += chunk.byteLength
            yield chunk
          }
        } catch (error) {
          sourceFailure = { error }
          throw error
        }
      })(),
      { objectMode: false },
    )
    const controller = new AbortController()
    const upload = new Upload({
      client,
      params: { Bucket: this.bucket, Key: name, Body: body },
      partSize: Math.max(5 * MIB, this.options.partSizeBytes ?? 8 * MIB),
      queueSize: this.options.queueSize ?? 4,
      leavePartsOnError: false,
      abortController: controller,
    })
    const onAbort = () => {
      controller.abort()
      body.destroy()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await upload.done()
      return { bytes }
    } catch (error) {
      body.destroy()
      if (signal?.aborted) throw signal.reason
      if (sourceFailure) throw sourceFailure.error
      throw wrapS3Error(error, 'write', key)
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  async get(key: string, range: ByteRange = {}): Promise<Readable> {
    validateRange(range)
    const name = this.objectName(key)
    const client = this.open()
    const ranged = range.start !== undefined || range.end !== undefined
    try {
      const reply = await client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: name,
          Range: ranged ? `bytes=${range.start ?? 0}-${range.end ?? ''}` : undefined,
        }),
      )
      const body = reply.Body instanceof Readable ? reply.Body : Readable.from([])
      const wanted = range.end === undefined ? undefined : range.end - (range.start ?? 0) + 1
      // Some S3-compatible servers (s3rver) read `bytes=0-0` as "everything": never pass on
      // more than was asked for.
      if (wanted !== undefined && (reply.ContentLength ?? 0) > wanted) {
        return Readable.from(firstBytes(body, wanted), { objectMode: false })
      }
      return body
    } catch (error) {
      // 416: the blob exists but the range starts past its end; the port says: no bytes.
      if (ranged && isUnsatisfiableRange(error)) return Readable.from([])
      throw wrapS3Error(error, 'read', key)
    }
  }

  async stat(key: string): Promise<BlobStat> {
    const name = this.objectName(key)
    try {
      const head = await this.open().send(new HeadObjectCommand({ Bucket: this.bucket, Key: name }))
      return { bytes: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) }
    } catch (error) {
      throw wrapS3Error(error, 'stat', key)
    }
  }

  /** S3 answers a delete of a missing object with success: idempotent as the port wants. */
  async delete(key: string): Promise<void> {
    const name = this.objectName(key)
    try {
      await this.open().send(new DeleteObjectCommand({ Bucket: this.bucket, Key: name }))
    } catch (error) {
      throw wrapS3Error(error, 'delete', key)
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    validatePrefix(prefix)
    const pages = paginateListObjectsV2(
      { client: this.open() },
      { Bucket: this.bucket, Prefix: `${this.prefix}${prefix}` },
    )
    try {
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(this.prefix.length)
          // Objects someone else put in the bucket may not be valid keys: never listed.
          if (key !== undefined && isValidKey(key)) yield key
        }
      }
    } catch (error) {
      throw wrapS3Error(error, 'list', prefix)
    }
  }

  private objectName(key: string): string {
    return `${this.prefix}${validateKey(key)}`
  }

  private open(): S3Client {
    if (!this.client) throw new Error('S3BlobStore is not initialised: call init() first')
    return this.client
  }
}

async function* firstBytes(source: Readable, limit: number): AsyncGenerator<Buffer> {
  let left = limit
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (chunk.byteLength >= left) {
        yield chunk.subarray(0, left)
        return
      }
      left -= chunk.byteLength
      yield chunk
    }
  } finally {
    source.destroy()
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
