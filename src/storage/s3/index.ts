/**
 * The S3-compatible BlobStore. The composition root loads this module with `await import()` only
 * when the storage URL is `s3://...`, so an embedded run never loads the AWS SDK (G4).
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3'
import { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.js'
import { parseS3Url } from './s3-location.js'

export { parseS3Url, S3BlobStore, type S3BlobStoreOptions }

export interface S3StoreSettings {
  /** `s3://bucket` or `s3://bucket/prefix`. */
  url: string
  /** An S3-compatible server, e.g. `http://minio:9000`. Absent: AWS S3. */
  endpoint?: string
  /** Absent: the AWS SDK's usual sources (AWS_REGION, ~/.aws/config); `us-east-1` with an endpoint. */
  region?: string
  /** Both or neither; absent: the SDK's default credential chain (environment, files, roles). */
  accessKeyId?: string
  secretAccessKey?: string
  /** `http://host/bucket/key` addressing. Default: true with an endpoint, false on AWS. */
  forcePathStyle?: boolean
}

/** A store for `settings.url`, with its own client; call `init()` next (it checks the bucket). */
export function createS3BlobStore(settings: S3StoreSettings): S3BlobStore {
  const location = parseS3Url(settings.url)
  return new S3BlobStore({ ...location, clientConfig: s3ClientConfig(settings) })
}

/**
 * The AWS SDK client configuration for these settings, for other S3 users of the same store
 * (the tus uploads' `@tus/s3-store`), so every client reaches the bucket the same way.
 */
export function s3ClientConfig(settings: Omit<S3StoreSettings, 'url'>): S3ClientConfig {
  if ((settings.accessKeyId === undefined) !== (settings.secretAccessKey === undefined)) {
    throw new TypeError('S3 credentials need both an access key id and a secret access key')
  }
  const custom = settings.endpoint !== undefined
  return {
    endpoint: settings.endpoint,
    region: settings.region ?? (custom ? 'us-east-1' : undefined),
    forcePathStyle: settings.forcePathStyle ?? custom,
    credentials:
      settings.accessKeyId === undefined
        ? undefined
        : { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey! },
    // S3-compatible servers often reject the SDK's newer default checksums (CRC trailers);
    // AWS itself gets them.
    requestChecksumCalculation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    responseChecksumValidation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
  }
}
