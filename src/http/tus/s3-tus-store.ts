/**
 * The tus datastore when the service's storage is S3 (`TALLY_STORAGE=s3://bucket/prefix`):
 * `@tus/s3-store` on the same bucket, with the same endpoint, region, credentials and addressing
 * as the BlobStore (`s3ClientConfig` from `storage/s3`), its objects under `<prefix>tus/`. Loaded
 * with `await import()` only in S3 mode, so an embedded run never loads the AWS SDK; the only
 * module that imports `@tus/s3-store`.
 *
 * `@tus/s3-store` names its objects after the bare upload id (`<id>`, `<id>.info`, `<id>.part`)
 * at the bucket's root. A middleware on its S3 client puts every key it sends under the prefix
 * and takes the prefix off the keys S3 answers with, and limits the listing of multipart uploads
 * (the expiry sweep) to that prefix, so the sweep never sees the results being written next to
 * it. `remove` also deletes the objects of a finished upload, which the store's own `remove`
 * leaves behind (S3 answers `NoSuchUpload` to aborting a completed multipart upload, and the store
 * then gives up before deleting anything): without that a finished upload could start two jobs.
 *
 * In S3, an upload is a multipart upload: each PATCH becomes parts of at least 5 MiB (S3's
 * minimum) and a shorter tail is kept as the object `<id>.part` until the next PATCH, so the
 * offset after a dropped connection counts every byte that arrived. Unfinished uploads are
 * removed by the expiry sweep (`deleteExpired`: listed with ListMultipartUploads, aborted, their
 * `.info` and `.part` deleted). Expiry tags (`useTags`) are off: the sweep does the expiring,
 * and S3-compatible servers often lack object tagging.
 */
import { S3Store } from '@tus/s3-store'
import { ERRORS } from '@tus/utils'
import { parseS3Url, s3ClientConfig } from '../../storage/s3/index.js'

export interface S3TusStoreOptions {
  /** The service's storage URL, `s3://bucket[/prefix]`. */
  url: string
  endpoint?: string
  region?: string
  accessKeyId?: string
  secretAccessKey?: string
  forcePathStyle?: boolean
  /** Unfinished uploads older than this are removed by `deleteExpired`. */
  expiryMs: number
  /** Preferred multipart part size (at least 5 MiB). Default 8 MiB. */
  partSizeBytes?: number
}

/** Where tus's objects go, under the service's prefix. */
export const TUS_S3_FOLDER = 'tus/'

/** Key fields of the S3 commands `@tus/s3-store` sends. */
interface KeyedInput {
  Key?: string
  Prefix?: string
  KeyMarker?: string
  Delete?: { Objects?: { Key?: string }[] }
}

/** Key fields of the answers it reads. */
interface KeyedOutput {
  Key?: string
  NextKeyMarker?: string
  Uploads?: { Key?: string }[]
  Deleted?: { Key?: string }[]
}

export class S3TusStore extends S3Store {
  /** `<service prefix>tus/`: the objects of upload `id` are `<keyPrefix><id>[.info|.part]`. */
  readonly keyPrefix: string

  constructor(options: S3TusStoreOptions) {
    const { bucket, prefix } = parseS3Url(options.url)
    super({
      partSize: options.partSizeBytes,
      useTags: false,
      expirationPeriodInMilliseconds: options.expiryMs,
      s3ClientConfig: { ...s3ClientConfig(options), bucket },
    })
    this.keyPrefix = `${prefix}${TUS_S3_FOLDER}`
    const keyPrefix = this.keyPrefix
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const listing = context.commandName === 'ListMultipartUploadsCommand'
        const input = underPrefix(args.input as KeyedInput, keyPrefix, listing)
        const result = await next({ ...args, input })
        result.output = withoutPrefix(
          result.output as KeyedOutput,
          keyPrefix,
        ) as typeof result.output
        return result
      },
      { step: 'initialize', name: 'tallyTusKeyPrefix' },
    )
  }

  close(): void {
    this.client.destroy()
  }

  /**
   * Aborts the multipart upload if it is still open, then deletes the upload's objects, finished
   * or not. Throws the store's FILE_NOT_FOUND when there is no such upload.
   */
  override async remove(id: string): Promise<void> {
    const { 'upload-id': uploadId } = await this.getMetadata(id).catch(() => {
      throw ERRORS.FILE_NOT_FOUND
    })
    try {
      await this.client.abortMultipartUpload({ Bucket: this.bucket, Key: id, UploadId: uploadId })
    } catch (error) {
      if (!isMissingUpload(error)) throw error
    }
    await this.client.deleteObjects({
      Bucket: this.bucket,
      Delete: {
        Objects: [{ Key: id }, { Key: this.infoKey(id) }, { Key: this.partKey(id, true) }],
      },
    })
    await this.clearCache(id)
  }
}

function underPrefix(input: KeyedInput, prefix: string, listing: boolean): KeyedInput {
  const out: KeyedInput = { ...input }
  if (input.Key !== undefined) out.Key = prefix + input.Key
  if (input.KeyMarker !== undefined) out.KeyMarker = prefix + input.KeyMarker
  if (input.Delete?.Objects) {
    out.Delete = {
      ...input.Delete,
      Objects: input.Delete.Objects.map((object) => ({ ...object, Key: prefix + object.Key })),
    }
  }
  // ListMultipartUploads (the expiry sweep): only tus's own uploads.
  if (listing) out.Prefix = prefix
  return out
}

function withoutPrefix(output: KeyedOutput, prefix: string): KeyedOutput {
  if (typeof output !== 'object' || output === null) return output
  const strip = (key: string | undefined) =>
    key?.startsWith(prefix) ? key.slice(prefix.length) : key
  const out: KeyedOutput = { ...output }
  if (output.Key !== undefined) out.Key = strip(output.Key)
  if (output.NextKeyMarker !== undefined) out.NextKeyMarker = strip(output.NextKeyMarker)
  if (output.Uploads) out.Uploads = output.Uploads.map((u) => ({ ...u, Key: strip(u.Key) }))
  if (output.Deleted) out.Deleted = output.Deleted.map((d) => ({ ...d, Key: strip(d.Key) }))
  return out
}

function isMissingUpload(error: unknown): boolean {
  const name = (error as { name?: string; Code?: string } | null)?.name
  return name === 'NoSuchUpload' || name === 'NoSuchKey' || name === 'NotFound'
}
