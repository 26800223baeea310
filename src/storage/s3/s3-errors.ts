/** AWS SDK errors -> the BlobStore port's error contract (`../types.ts`). */
import { NoSuchBucket, NoSuchKey, NotFound, S3ServiceException } from '@aws-sdk/client-s3'
import { StorageError } from '../storage-error.js'

/** No such object (GET answers `NoSuchKey`; HEAD has no body, so only its 404 says it). */
export function isMissing(error: unknown): boolean {
  return (
    error instanceof NoSuchKey ||
    error instanceof NotFound ||
    (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)
  )
}

/** 416: the range starts past the end of an object that exists. */
export function isUnsatisfiableRange(error: unknown): boolean {
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === 416
}

export function wrapS3Error(error: unknown, action: string, key: string): StorageError {
  if (error instanceof StorageError) return error
  const reading = action === 'read' || action === 'stat'
  if (reading && isMissing(error) && !(error instanceof NoSuchBucket)) {
    return new StorageError('E_BLOB_NOT_FOUND', `no blob under key ${JSON.stringify(key)}`, {
      cause: error,
    })
  }
  // The message stays generic (it may reach a client); the cause keeps the details for the log.
  const code = error instanceof S3ServiceException ? ` (${error.name})` : ''
  return new StorageError(
    'E_STORAGE',
    `storage failed to ${action} ${JSON.stringify(key)}${code}`,
    {
      cause: error,
    },
  )
}
