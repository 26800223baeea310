import { validatePrefix } from '../key.js'

/** Where blobs live in S3: a bucket and a key prefix inside it. */
export interface S3Location {
  bucket: string
  /** `''`, or a path ending in `/`: blob `a/b` is the object `<prefix>a/b`. */
  prefix: string
}

/** S3's rule for bucket names (the subset every S3-compatible store accepts). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * `s3://bucket` or `s3://bucket/some/prefix` (a trailing `/` is optional). The prefix follows the
 * storage key rules, so it cannot smuggle `..` or empty segments into object names.
 */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url)
  if (!match) throw new TypeError(`expected s3://bucket[/prefix], got ${JSON.stringify(url)}`)
  const bucket = match[1]!
  if (!BUCKET.test(bucket)) {
    throw new TypeError(
      `invalid S3 bucket name ${JSON.stringify(bucket)}: 3 to 63 lower-case letters, digits, dots and hyphens`,
    )
  }
  const path = (match[2] ?? '').replace(/\/$/, '')
  if (path !== '') validatePrefix(path)
  return { bucket, prefix: path === '' ? '' : `${path}/` }
}
